//! Any string as a PATCH `path`: never a panic, and an accepted path prints back to
//! one that parses to the same thing.
#![no_main]

use idbridge_scim::path::PatchPath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let Ok(path) = PatchPath::parse(input) else {
        return;
    };
    let printed = path.to_string();
    if let Ok(again) = PatchPath::parse(&printed) {
        assert_eq!(path, again, "{input:?} printed as {printed:?}");
    }
});

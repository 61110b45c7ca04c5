//! Any string as a SCIM `filter`: the parser must never panic, blow the stack or run
//! away, and what it accepts must print back to a filter that parses to the same tree
//! (the server logs and reports filters in printed form).
#![no_main]

use idbridge_scim::filter::{Filter, FilterError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let Ok(filter) = Filter::parse(input) else {
        return;
    };
    let printed = filter.to_string();
    match Filter::parse(&printed) {
        Ok(again) => assert_eq!(filter, again, "{input:?} printed as {printed:?}"),
        // Printing adds parentheses and spaces, so a filter at the limits may
        // print past them; that is the only way the printed form may fail.
        Err(FilterError::TooDeep { .. } | FilterError::TooLong { .. }) => {}
        Err(e) => panic!("{input:?} printed as {printed:?}, which fails: {e}"),
    }
});

//! Any JSON pair (a resource, a PatchOp body) through normalize → parse → apply, for
//! Users and Groups: never a panic, and a successful PATCH leaves a document that
//! normalizing again accepts unchanged, so what is stored is always re-readable.
#![no_main]

use idbridge_scim::patch::{self, PatchRequest};
use idbridge_scim::resource;
use idbridge_scim::schema::ResourceType;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    let rt = if selector & 1 == 0 {
        ResourceType::User
    } else {
        ResourceType::Group
    };
    // The two JSON texts are separated by a NUL byte.
    let mut parts = rest.splitn(2, |b| *b == 0);
    let (Some(resource_json), Some(patch_json)) = (parts.next(), parts.next()) else {
        return;
    };
    let Ok(resource_body) = serde_json::from_slice::<Value>(resource_json) else {
        return;
    };
    let Ok(patch_body) = serde_json::from_slice::<Value>(patch_json) else {
        return;
    };
    let Ok(doc) = resource::normalize(rt, &resource_body) else {
        return;
    };
    let Ok(request) = PatchRequest::parse(&patch_body) else {
        return;
    };
    let Ok(patched) = patch::apply(rt, &doc, &request) else {
        return;
    };
    let mut body = patched.doc.clone();
    body.insert(
        "schemas".into(),
        Value::Array(resource::schemas_of(rt, &patched.doc)),
    );
    let again = resource::normalize(rt, &Value::Object(body));
    assert!(
        again.is_ok(),
        "patched document refused on re-read: {again:?}"
    );
});

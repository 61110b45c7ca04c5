//! The pure cost of bearer secrets: issuing one, and checking a presented one's
//! shape and digest (the CPU part of every authenticated request).
//!
//!     cargo bench -p idbridge-core --bench secrets

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use idbridge_core::secret::ScimToken;

fn secrets(c: &mut Criterion) {
    c.bench_function("scim_token/generate", |b| {
        b.iter(|| black_box(ScimToken::generate()))
    });
    let presented = ScimToken::generate().expose_secret().to_owned();
    c.bench_function("scim_token/parse_and_hash", |b| {
        b.iter(|| black_box(ScimToken::parse(black_box(&presented)).map(|t| t.hash())))
    });
}

criterion_group!(benches, secrets);
criterion_main!(benches);

//! What the application reaches outside the database: URLs that come from outside
//! (IdP metadata, webhook endpoints), through [`Fetcher`], and DNS for domain
//! verification, through [`DomainVerifier`].

pub mod dns;
pub mod fetch;

pub use dns::DomainVerifier;
pub use fetch::{FetchError, Fetcher, PostOutcome};

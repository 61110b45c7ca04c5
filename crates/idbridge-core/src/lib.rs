//! The vocabulary every idbridge crate shares.
//!
//! Nothing in here performs I/O or reads the wall clock on its own: time arrives
//! through [`Clock`], randomness only when a secret is generated. That keeps the
//! protocol crates built on top of it deterministic and testable alone.

pub mod audit;
pub mod brand;
mod clock;
pub mod domain;
pub mod event;
pub mod json;
pub mod net;
mod redirect_uri;
pub mod roles;
pub mod sealed;
pub mod secret;
mod slug;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock, truncate_to_micros};
pub use event::{EventKind, EventResource};
pub use redirect_uri::{RedirectUri, RedirectUriError};
pub use slug::{InvalidSlug, TenantSlug};

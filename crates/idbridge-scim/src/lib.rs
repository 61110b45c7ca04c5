//! The SCIM 2.0 protocol core (RFC 7643, RFC 7644): pure functions over JSON values.
//! No I/O, no clock of its own, no async: the server feeds it requests and stored
//! resources, and persists what it returns.

pub mod discovery;
pub mod error;
pub mod eval;
pub mod filter;
pub mod patch;
pub mod path;
pub mod projection;
pub mod query;
pub mod resource;
pub mod schema;
pub mod stored;

pub use error::{ScimError, ScimType};

pub const ERROR_MESSAGE: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

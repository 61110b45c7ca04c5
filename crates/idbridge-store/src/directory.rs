//! The directory's records: users, groups, memberships, events, provisioning log.

use idbridge_core::{EventKind, EventResource};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

pub use idbridge_scim::patch::{MemberChange, MemberRef};
pub use idbridge_scim::query::ListRequest;

/// Where a directory user came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    Scim,
    /// Created at sign-in (SAML just-in-time provisioning).
    Jit,
    /// Created by hand (the admin API, the console or the CLI); a later SCIM create
    /// of the same userName or email adopts it.
    Manual,
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Scim => "scim",
            UserSource::Jit => "jit",
            UserSource::Manual => "manual",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "scim" => Some(UserSource::Scim),
            "jit" => Some(UserSource::Jit),
            "manual" => Some(UserSource::Manual),
            _ => None,
        }
    }
}

/// A user of a tenant's directory. `document` is its canonical SCIM document; the
/// other fields are what the store indexes and what every reader needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryUser {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub document: Map<String, Value>,
    pub source: UserSource,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Incremented by every write; the ETag.
    pub version: i64,
}

/// A user as a SCIM list writes it out whole: its document as the JSON text it is
/// stored as, compact, never parsed into values (see `idbridge_scim::stored`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Incremented by every write; the ETag.
    pub version: i64,
    /// A JSON object's text, without whitespace between its tokens. Not parsed
    /// when read: `idbridge_scim::stored::Members::parse`, which reads it out,
    /// refuses anything else (both databases hold only valid JSON there).
    pub document: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryGroup {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    /// The group's document, without members.
    pub document: Map<String, Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }
}

/// A member as read back: its id, kind and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub id: Uuid,
    pub kind: MemberKind,
    pub display: Option<String>,
}

/// A group a user belongs to, directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGroup {
    pub user_id: Uuid,
    pub group_id: Uuid,
    pub display_name: String,
}

/// An event to append to the tenant's feed with a write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub resource_type: EventResource,
    pub resource_id: Uuid,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryEvent {
    /// Position in the tenant's feed: 1, 2, 3, … with no gaps.
    pub seq: i64,
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: EventKind,
    pub resource_type: EventResource,
    pub resource_id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub data: Value,
}

/// One SCIM request, as the provisioning log keeps it. Never a token or a password:
/// there is no field that could hold one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    /// Why it failed, for a failure.
    pub reason: Option<String>,
    pub request_id: Option<String>,
    /// Which SCIM token made the request.
    pub token_id: Option<Uuid>,
}

/// What a write of the directory carries besides the change itself: the events it
/// raises and the log line it leaves, committed together with it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteContext {
    pub now: OffsetDateTime,
    pub events: Vec<NewEvent>,
    /// The provisioning log line, for writes a SCIM request made; `None` for writes
    /// a sign-in made (those are in the sign-in log).
    pub log: Option<ProvisioningRecord>,
    /// The audit record, for writes an operator made by hand.
    pub audit: Option<crate::AuditRecord>,
    /// An e-mail the write owes (an invitation), queued with it.
    pub mail: Option<crate::NewMail>,
}

/// What [`crate::DirectoryRepo::sweep_history`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweptHistory {
    pub events: u64,
    pub log_lines: u64,
}

/// The result of a list: the total matching (counted in the database) and one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// A list of stored users read for the caller whose token was checked with it
/// (`DirectoryRepo::list_stored_users_as`).
#[derive(Debug)]
pub struct StoredUsersAs {
    /// The active token presented.
    pub token: crate::ActiveScimToken,
    /// The page and (when asked for) its users' groups; empty unless the token is
    /// a token of the tenant the request named. An error here is the list's, for
    /// a caller already known (a filter that does not compile, say).
    pub page: crate::Result<StoredUsersPage>,
}

/// A page of stored users, and their groups when asked for.
pub type StoredUsersPage = (Listing<StoredUser>, Option<Vec<UserGroup>>);

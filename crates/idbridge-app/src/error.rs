//! The error of the operator-facing operations (tenants, clients, credentials,
//! domains, roles, connections, webhooks, setup links): what went wrong, in terms
//! every surface can say in its own way. No status codes: the admin API, the
//! console, the portal and the CLI each map a variant to their own answer.

use idbridge_core::InvalidSlug;
use idbridge_core::domain::{InvalidDomain, InvalidEmail};
use idbridge_store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input breaks a rule; the message says which, for the person who sent it.
    #[error("{0}")]
    Invalid(String),
    #[error("invalid tenant slug: {0}")]
    InvalidSlug(#[from] InvalidSlug),
    #[error("no tenant has the slug {0:?}")]
    TenantNotFound(String),
    #[error("the cursor was not issued by this list, or is damaged")]
    InvalidCursor,
    /// No such thing of this kind (`client`, `domain`, `SCIM token`, …).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a tenant with the slug {0:?} already exists")]
    TenantExists(String),
    #[error("the tenant has a user with the userName or email {0:?}")]
    UserExists(String),
    #[error(
        "this user is provisioned by the tenant's IdP over SCIM: change it in the IdP, which \
         would otherwise write over the change on its next push"
    )]
    ManagedByScim,
    /// Other writes kept changing the same thing for every attempt.
    #[error("the {0} is being changed by other requests; retry")]
    Busy(&'static str),
    #[error("the IdP metadata cannot be used: {0}")]
    InvalidMetadata(#[from] idbridge_saml::MetadataError),
    #[error("the IdP metadata URL could not be fetched: {0}")]
    MetadataFetch(String),
    #[error("invalid domain: {0}")]
    InvalidDomain(#[from] InvalidDomain),
    #[error(
        "{0} is a public mail provider's domain: anyone can have an address there, so no \
         tenant can claim it"
    )]
    PublicMailDomain(String),
    #[error("the domain {0} is verified by another tenant")]
    DomainClaimed(String),
    #[error("invalid email address: {0}")]
    InvalidEmail(#[from] InvalidEmail),
    #[error("unusable webhook URL: {0}")]
    InvalidWebhookUrl(String),
    /// The database cannot be reached now: worth retrying.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// A failure that is nobody's input: a bug, a corrupt row, a key that will not
    /// parse. The details are for the log, never for the caller.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Stable, `snake_case`, unique per variant: what a surface shows as the
    /// machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_request",
            Error::InvalidSlug(_) => "invalid_slug",
            Error::TenantNotFound(_) => "tenant_not_found",
            Error::InvalidCursor => "invalid_cursor",
            Error::NotFound(_) => "not_found",
            Error::TenantExists(_) => "tenant_exists",
            Error::UserExists(_) => "user_exists",
            Error::ManagedByScim => "managed_by_scim",
            Error::Busy(_) => "busy",
            Error::InvalidMetadata(_) => "invalid_metadata",
            Error::MetadataFetch(_) => "metadata_fetch_failed",
            Error::InvalidDomain(_) => "invalid_domain",
            Error::PublicMailDomain(_) => "public_mail_domain",
            Error::DomainClaimed(_) => idbridge_store::CLAIMED_BY_ANOTHER_TENANT,
            Error::InvalidEmail(_) => "invalid_email",
            Error::InvalidWebhookUrl(_) => "invalid_webhook_url",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// Whether the database, not the request, is at fault (worth retrying).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(err))
    }
}

/// Storage failures the operation did not map to something more specific.
impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            Error::Unavailable(err)
        } else {
            Error::internal(err)
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

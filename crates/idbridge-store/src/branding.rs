//! The vendor's brand: one row for the whole deployment (the app's name, a logo,
//! an accent colour, a support contact, where "Done" leads).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{AuditRecord, Result};

/// The operator's branding settings (every field unset: idbridge's own look).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branding {
    pub app_name: Option<String>,
    /// `#rrggbb`, lower case.
    pub accent_color: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub return_url: Option<String>,
}

/// What is known of the stored logo without reading its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoMeta {
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
    /// Hex SHA-256 of the bytes, cut short: part of the logo's URL.
    pub hash: String,
}

/// The branding row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrandingRecord {
    pub settings: Branding,
    pub logo: Option<LogoMeta>,
    pub updated_at: Option<OffsetDateTime>,
}

/// A logo with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub meta: LogoMeta,
    pub bytes: Vec<u8>,
}

#[async_trait]
pub trait BrandingRepo {
    /// The branding (all unset until the operator sets some).
    async fn branding(&self) -> Result<BrandingRecord>;
    /// Replaces the settings (not the logo).
    async fn set_branding(
        &self,
        settings: &Branding,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
    /// Replaces the logo, or removes it (`None`).
    async fn set_branding_logo(
        &self,
        logo: Option<&Logo>,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
    /// The logo's bytes, if there is one.
    async fn branding_logo(&self) -> Result<Option<Logo>>;
}

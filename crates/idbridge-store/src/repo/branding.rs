//! Branding, written once for both backends.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::SqlStore;
use crate::branding::{Branding, BrandingRecord, BrandingRepo, Logo, LogoMeta};
use crate::db::{Db, FromRow, Row, Ts, query};
use crate::{AuditRecord, Result};

impl FromRow for BrandingRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        let logo_type: Option<String> = row.get("logo_type")?;
        let logo_hash: Option<String> = row.get("logo_hash")?;
        Ok(Self {
            settings: Branding {
                app_name: row.get("app_name")?,
                accent_color: row.get("accent_color")?,
                support_email: row.get("support_email")?,
                support_url: row.get("support_url")?,
                return_url: row.get("return_url")?,
            },
            logo: logo_type
                .zip(logo_hash)
                .map(|(content_type, hash)| LogoMeta { content_type, hash }),
            updated_at: row.opt_time("updated_at")?,
        })
    }
}

impl FromRow for Logo {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(Self {
            meta: LogoMeta {
                content_type: row.get("logo_type")?,
                hash: row.get("logo_hash")?,
            },
            bytes: row.get("logo")?,
        })
    }
}

#[async_trait]
impl<D: Db> BrandingRepo for SqlStore<D> {
    async fn branding(&self) -> Result<BrandingRecord> {
        let found: Option<BrandingRecord> = query::<D>(
            "SELECT app_name, accent_color, support_email, support_url, return_url, \
             logo_type, logo_hash, updated_at FROM branding WHERE id = 1",
        )
        .fetch_optional(&mut *self.read().await?)
        .await?;
        Ok(found.unwrap_or_default())
    }

    async fn set_branding(
        &self,
        b: &Branding,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "UPDATE branding SET app_name = $1, accent_color = $2, support_email = $3, \
             support_url = $4, return_url = $5, updated_at = $6 WHERE id = 1",
        )
        .bind(&b.app_name)
        .bind(&b.accent_color)
        .bind(&b.support_email)
        .bind(&b.support_url)
        .bind(&b.return_url)
        .bind(Ts(now))
        .execute_one(&mut *tx)
        .await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_branding_logo(
        &self,
        logo: Option<&Logo>,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "UPDATE branding SET logo = $1, logo_type = $2, logo_hash = $3, updated_at = $4 \
             WHERE id = 1",
        )
        .bind(logo.map(|l| l.bytes.as_slice()))
        .bind(logo.map(|l| l.meta.content_type.as_str()))
        .bind(logo.map(|l| l.meta.hash.as_str()))
        .bind(Ts(now))
        .execute_one(&mut *tx)
        .await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn branding_logo(&self) -> Result<Option<Logo>> {
        query::<D>(
            "SELECT logo, logo_type, logo_hash FROM branding WHERE id = 1 AND logo IS NOT NULL",
        )
        .fetch_optional(&mut *self.read().await?)
        .await
    }
}

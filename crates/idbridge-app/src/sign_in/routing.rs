//! Which connection a sign-in goes through.

use idbridge_store::{ConnectionRecord, Tenant};
use uuid::Uuid;

use super::SignInRefusal;
use crate::App;

/// The connection `requested` names (`connection=`), else the one serving the
/// `login_hint`'s domain, else the tenant's default, else its first SAML
/// connection, else its oldest. `Ok(None)`: the tenant has none.
pub async fn route(
    app: &App,
    tenant: &Tenant,
    requested: Option<&str>,
    login_hint: Option<&str>,
) -> Result<Option<ConnectionRecord>, SignInRefusal> {
    let all = app.store.connections(tenant.id).await?;
    if let Some(requested) = requested {
        let id = Uuid::parse_str(requested).map_err(|_| SignInRefusal::UnknownConnection)?;
        return all
            .into_iter()
            .find(|c| c.id == id)
            .map(Some)
            .ok_or(SignInRefusal::UnknownConnection);
    }
    Ok(pick(all, tenant.id, login_hint))
}

/// [`route`]'s rule without `connection=`, on a tenant's connections.
pub fn pick(
    all: Vec<ConnectionRecord>,
    tenant_id: Uuid,
    login_hint: Option<&str>,
) -> Option<ConnectionRecord> {
    let domain = login_hint
        .and_then(|hint| idbridge_core::domain::email_domain(hint).ok())
        .map(|d| d.to_string());
    if let Some(domain) = domain
        && let Some(c) = all.iter().find(|c| c.domains.contains(&domain))
    {
        return Some(c.clone());
    }
    let index = all
        .iter()
        .position(|c| c.is_default)
        .or_else(|| all.iter().position(|c| c.id == tenant_id))
        .or(if all.is_empty() { None } else { Some(0) })?;
    all.into_iter().nth(index)
}

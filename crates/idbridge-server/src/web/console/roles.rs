//! A tenant's roles: the app's roles (deployment-wide), how the tenant's IdP role
//! values and group names map onto them, the policy for several roles, and the
//! default role. Each form is one service call ([`idbridge_app::roles`],
//! [`idbridge_app::tenants::update`]), so a refused form changes nothing and
//! the rules are the API's.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idbridge_core::roles::{MappingSource, RolePolicy};
use serde::Deserialize;

use super::auth::Signed;
use super::page::{Chrome, ConsoleError, Notice, ok, render};
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;
use idbridge_app::roles::{self, MappingView, PutRoleMappings};
use idbridge_app::tenants::{self, UpdateTenant};
use idbridge_app::views::TenantDetail;

/// Empty rows the mapping form offers for new mappings.
const BLANK_ROWS: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct MappingRow {
    pub source: String,
    pub value: String,
    pub role: String,
    /// The role is one of the app's (a select shows it), or empty.
    pub known: bool,
}

#[derive(Template)]
#[template(path = "console/roles.html")]
struct RolesPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    app_roles: Vec<String>,
    app_roles_text: String,
    rows: Vec<MappingRow>,
    policy_all: bool,
    default_role: String,
    default_known: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

/// What the forms start from; `rows` and `app_roles_text` replace the stored values
/// after a refusal, so the operator's typing is not lost.
#[derive(Default)]
struct Kept {
    rows: Option<Vec<MappingRow>>,
    app_roles_text: Option<String>,
    default_role: Option<String>,
}

async fn roles_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    notice: Notice,
    kept: Kept,
) -> Result<RolesPage, ConsoleError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let current = roles::role_mappings(&state.app, slug).await?;
    let app_roles = state
        .app
        .store
        .app_roles()
        .await
        .map_err(AdminError::from)?;
    let mut rows = kept.rows.unwrap_or_else(|| {
        current
            .mappings
            .into_iter()
            .map(|m| MappingRow {
                source: m.source.as_str().to_owned(),
                value: m.value,
                role: m.role,
                known: true,
            })
            .collect()
    });
    rows.extend(std::iter::repeat_n(
        MappingRow {
            source: MappingSource::Role.as_str().to_owned(),
            ..MappingRow::default()
        },
        BLANK_ROWS,
    ));
    let is_known = |role: &str| role.is_empty() || app_roles.iter().any(|r| r == role);
    for row in &mut rows {
        row.known = is_known(&row.role);
    }
    let default_role = kept
        .default_role
        .unwrap_or_else(|| current.default_role.unwrap_or_default());
    Ok(RolesPage {
        default_known: is_known(&default_role),
        default_role,
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("{} · Roles", tenant.name),
        notice,
        tab: "roles",
        slug: tenant.slug.to_string(),
        app_roles_text: kept.app_roles_text.unwrap_or_else(|| app_roles.join("\n")),
        app_roles,
        rows,
        policy_all: current.policy == RolePolicy::All,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ConsoleError> {
    let notice = match query.done.as_deref() {
        Some("app-roles") => Notice::Success("App roles saved, for every tenant.".into()),
        Some("mappings") => Notice::Success("Role mappings saved.".into()),
        Some("default") => Notice::Success("Default role saved.".into()),
        _ => Notice::None,
    };
    ok(&roles_page(&state, &site, &signed, &slug, notice, Kept::default()).await?)
}

/// A refusal on the page (with what was typed), or the error page for the rest.
async fn refused(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    error: AdminError,
    kept: Kept,
) -> Result<Response, ConsoleError> {
    if error.status() != StatusCode::BAD_REQUEST {
        return Err(error.into());
    }
    let page = roles_page(
        state,
        site,
        signed,
        slug,
        Notice::Error(error.to_string()),
        kept,
    )
    .await?;
    render(StatusCode::BAD_REQUEST, &page)
}

#[derive(Deserialize)]
pub struct AppRolesForm {
    #[serde(default)]
    roles: String,
}

pub async fn save_app_roles(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<AppRolesForm>,
) -> Result<Response, ConsoleError> {
    // The tenant must exist for the page to come back to; checked before writing.
    tenants::find(&state.app, &slug).await?;
    let roles: Vec<String> = form
        .roles
        .lines()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    match roles::set_app_roles(&state.app, roles, &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/roles?done=app-roles"),
        )),
        Err(e) => {
            let kept = Kept {
                app_roles_text: Some(form.roles),
                ..Kept::default()
            };
            refused(&state, &site, &signed, &slug, e, kept).await
        }
    }
}

/// The mapping form's rows: `source_N`, `value_N`, `role_N` and `remove_N` for each
/// row N, in row order.
fn read_rows(fields: &[(String, String)]) -> (Vec<MappingRow>, Vec<bool>) {
    let mut rows: BTreeMap<usize, (MappingRow, bool)> = BTreeMap::new();
    for (name, value) in fields {
        let Some((field, index)) = name.rsplit_once('_') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        let entry = rows.entry(index).or_default();
        match field {
            "source" => entry.0.source = value.clone(),
            "value" => entry.0.value = value.trim().to_owned(),
            "role" => entry.0.role = value.trim().to_owned(),
            "remove" => entry.1 = true,
            _ => {}
        }
    }
    rows.into_values().unzip()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The rows to store: blank and removed rows dropped, each source checked.
fn mappings_of(rows: &[MappingRow], removed: &[bool]) -> Result<Vec<MappingView>, AdminError> {
    rows.iter()
        .zip(removed)
        .filter(|(row, removed)| !**removed && !row.value.is_empty())
        .map(|(row, _)| {
            let source = MappingSource::parse(&row.source).ok_or_else(|| {
                AdminError::InvalidRequest(format!(
                    "source {:?} is neither role nor group",
                    row.source
                ))
            })?;
            Ok(MappingView {
                source,
                value: row.value.clone(),
                role: row.role.clone(),
            })
        })
        .collect()
}

pub async fn save_mappings(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let (rows, removed) = read_rows(&fields);
    let policy = match field(&fields, "policy").unwrap_or("") {
        "" => Ok(None),
        raw => RolePolicy::parse(raw).map(Some).ok_or_else(|| {
            AdminError::InvalidRequest(format!("role policy {raw:?} is neither highest nor all"))
        }),
    };
    let outcome = match (mappings_of(&rows, &removed), policy) {
        (Ok(mappings), Ok(policy)) => roles::set_role_mappings(
            &state.app,
            &slug,
            PutRoleMappings { mappings, policy },
            &signed.audit,
        )
        .await
        .map_err(AdminError::from),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/roles?done=mappings"),
        )),
        Err(e) => {
            // Keep what was typed, minus the rows marked for removal and blanks.
            let kept_rows = rows
                .into_iter()
                .zip(removed)
                .filter(|(row, removed)| !removed && !row.value.is_empty())
                .map(|(row, _)| row)
                .collect();
            let kept = Kept {
                rows: Some(kept_rows),
                ..Kept::default()
            };
            refused(&state, &site, &signed, &slug, e, kept).await
        }
    }
}

#[derive(Deserialize)]
pub struct DefaultRoleForm {
    #[serde(default)]
    default_role: String,
}

pub async fn save_default_role(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<DefaultRoleForm>,
) -> Result<Response, ConsoleError> {
    let role = form.default_role.trim();
    let input = UpdateTenant {
        default_role: Some((!role.is_empty()).then(|| role.to_owned())),
        ..UpdateTenant::default()
    };
    match tenants::update(&state.app, &slug, input, &signed.audit)
        .await
        .map(|o| TenantDetail::new(o, &state.app.config.public_url))
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/roles?done=default"),
        )),
        Err(e) => {
            let kept = Kept {
                default_role: Some(form.default_role),
                ..Kept::default()
            };
            refused(&state, &site, &signed, &slug, e, kept).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rows_are_read_in_order_and_blank_or_removed_rows_dropped() {
        let fields = pairs(&[
            ("csrf_token", "t"),
            ("source_10", "group"),
            ("value_10", " Later "),
            ("role_10", "Member"),
            ("source_2", "role"),
            ("value_2", "Admin"),
            ("role_2", "Admin"),
            ("source_3", "group"),
            ("value_3", "Gone"),
            ("role_3", "Member"),
            ("remove_3", "on"),
            ("source_4", "role"),
            ("value_4", ""),
            ("role_4", "Admin"),
            ("policy", "all"),
        ]);
        let (rows, removed) = read_rows(&fields);
        assert_eq!(rows.len(), 4);
        let kept = mappings_of(&rows, &removed).expect("valid");
        let values: Vec<_> = kept.iter().map(|m| m.value.as_str()).collect();
        assert_eq!(values, ["Admin", "Later"]);
        assert_eq!(kept[1].source, MappingSource::Group);
        assert_eq!(field(&fields, "policy"), Some("all"));
    }

    #[test]
    fn an_unknown_source_is_refused() {
        let fields = pairs(&[("source_0", "team"), ("value_0", "x"), ("role_0", "A")]);
        let (rows, removed) = read_rows(&fields);
        assert!(mappings_of(&rows, &removed).is_err());
    }
}

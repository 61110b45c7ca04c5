//! A tenant's directory: users (searchable by userName, display name or email,
//! paginated) with their status, groups and resolved app roles; groups (searchable,
//! paginated) with their members; the sign-in and provisioning logs.

use std::sync::Arc;

use crate::web::Query;
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idbridge_scim::schema::ResourceType;
use idbridge_store::PageRequest;
use serde::Deserialize;

use super::Site;
use super::auth::Signed;
use super::page::{Chrome, ConsoleError, Notice, next_page_link, ok, page_after, render, when};
use crate::AppState;
use crate::error::AdminError;
use idbridge_app::directory::{LogParams, user_views};
use idbridge_app::tenants;
use idbridge_app::views::encode_cursor;

const PAGE_SIZE: u32 = 25;
const MAX_QUERY_CHARS: usize = 200;

pub struct InvitationRow {
    pub recipient: String,
    pub state: &'static str,
    pub attempts: u32,
    pub last_error: String,
    pub when: String,
}

pub struct UserRow {
    pub id: String,
    /// Created by hand or at sign-in: the console may change it (a SCIM user is the
    /// IdP's to change).
    pub editable: bool,
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub roles: String,
    pub groups: String,
    pub source: String,
    pub updated_at: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
pub(super) struct UsersPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    query: String,
    /// The add-user form's values, kept when it is refused.
    pub new_user: NewUserForm,
    /// The latest invitation e-mail and how each delivery stands.
    invitations: Vec<InvitationRow>,
    invite_new_users: bool,
    users: Vec<UserRow>,
    total: Option<u64>,
    next_page: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    cursor: Option<String>,
    /// 1-based page of a search (searches page by position, lists by cursor).
    page: Option<u32>,
    /// What the last change did (post/redirect/get).
    done: Option<String>,
}

/// The add-user form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub role: String,
}

/// One page of a search: searches page by position (SCIM's `startIndex`), since
/// their order is by name, not by id.
struct SearchPage {
    /// 1-based, as the link says.
    number: u32,
    /// 1-based position of the page's first row.
    start: u32,
}

impl SearchPage {
    fn new(page: Option<u32>) -> Self {
        let number = page.unwrap_or(1).clamp(1, 10_000);
        Self {
            number,
            start: (number - 1) * PAGE_SIZE + 1,
        }
    }

    /// The store's query for this page of `filter`, sorted by `sort_by`.
    fn request(
        &self,
        resource: ResourceType,
        filter: &str,
        sort_by: &str,
    ) -> Result<idbridge_scim::query::ListRequest, AdminError> {
        idbridge_scim::query::list_request(
            resource,
            Some(filter),
            Some(sort_by),
            None,
            Some(&self.start.to_string()),
            Some(&PAGE_SIZE.to_string()),
        )
        .map_err(|e| AdminError::InvalidRequest(e.detail))
    }

    /// The next page's link, when rows remain after the `shown` of this one.
    fn next_link(&self, base: &str, needle: &str, shown: usize, total: u64) -> Option<String> {
        let seen = u64::from(self.start - 1) + shown as u64;
        (seen < total).then(|| {
            format!(
                "{base}?{}",
                serde_urlencoded::to_string([
                    ("q", needle.to_owned()),
                    ("page", (self.number + 1).to_string())
                ])
                .unwrap_or_default()
            )
        })
    }
}

/// A SCIM filter matching the text in userName, displayName or an email. The text
/// goes in as a JSON string literal, so quotes and backslashes in it stay text.
fn search_filter(needle: &str) -> String {
    let literal = serde_json::Value::String(needle.to_owned()).to_string();
    format!("userName co {literal} or displayName co {literal} or emails.value co {literal}")
}

pub async fn users(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(query): Query<UsersQuery>,
) -> Result<Response, ConsoleError> {
    let notice = match query.done.as_deref() {
        Some("created") => Notice::Success(
            "User created. They sign in through the tenant's identity provider.".into(),
        ),
        Some("deactivated") => Notice::Success(
            "User deactivated: their sign-ins are refused and the app is told.".into(),
        ),
        Some("activated") => Notice::Success("User activated.".into()),
        Some("deleted") => Notice::Success("User deleted.".into()),
        _ => Notice::None,
    };
    ok(&users_page(&state, &site, &signed, &slug, query, notice).await?)
}

/// The users page, with `notice` above it.
pub(super) async fn users_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    query: UsersQuery,
    notice: Notice,
) -> Result<UsersPage, ConsoleError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let needle: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let base = site.path(&format!("/tenants/{}/users", tenant.slug));
    let (users, total, next_page) = if needle.is_empty() {
        let page: PageRequest = page_after(PAGE_SIZE, query.cursor.clone())?;
        let found = state
            .app
            .store
            .page_users(tenant.id, page)
            .await
            .map_err(AdminError::from)?;
        let next = next_page_link(&base, found.next_after.map(encode_cursor));
        (found.items, None, next)
    } else {
        let search = SearchPage::new(query.page);
        let request = search.request(ResourceType::User, &search_filter(&needle), "userName")?;
        let listing = state
            .app
            .store
            .list_users(tenant.id, &request)
            .await
            .map_err(AdminError::from)?;
        let next = search.next_link(&base, &needle, listing.items.len(), listing.total);
        (listing.items, Some(listing.total), next)
    };
    let rows = user_views(&state.app, &tenant, users)
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id.to_string(),
            editable: u.source != "scim",
            display_name: u.display_name.unwrap_or_default(),
            email: u.email.unwrap_or_default(),
            active: u.active,
            roles: u.roles.join(", "),
            groups: u
                .groups
                .into_iter()
                .map(|g| g.display_name)
                .chain(u.saml_groups)
                .collect::<Vec<_>>()
                .join(", "),
            source: u.source,
            updated_at: when(u.updated_at),
            user_name: u.user_name,
        })
        .collect();
    let invitations = idbridge_app::mail::outbox(&state.app, &tenant, PageRequest::first(10))
        .await?
        .items
        .into_iter()
        .map(|m| InvitationRow {
            recipient: m.recipient,
            state: m.state,
            attempts: m.attempts,
            last_error: m.last_error.unwrap_or_default(),
            when: when(m.sent_at.unwrap_or(m.created_at)),
        })
        .collect();
    Ok(UsersPage {
        invitations,
        invite_new_users: tenant.invite_new_users,
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("{} · Users", tenant.name),
        notice,
        tab: "users",
        slug: tenant.slug.to_string(),
        query: needle,
        new_user: NewUserForm::default(),
        users: rows,
        total,
        next_page,
    })
}

pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    pub external_id: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct GroupsPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    query: String,
    groups: Vec<GroupRow>,
    total: Option<u64>,
    next_page: Option<String>,
}

/// A SCIM filter matching the text in a group's display name or external id, the
/// text kept a string literal as in [`search_filter`].
fn group_search_filter(needle: &str) -> String {
    let literal = serde_json::Value::String(needle.to_owned()).to_string();
    format!("displayName co {literal} or externalId co {literal}")
}

/// The tenant's groups, searchable by display name or external id, paginated like
/// the users: a list by cursor, a search by position.
pub async fn groups(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(query): Query<UsersQuery>,
) -> Result<Response, ConsoleError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let needle: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let base = site.path(&format!("/tenants/{}/groups", tenant.slug));
    let (groups, total, next_page) = if needle.is_empty() {
        let page: PageRequest = page_after(PAGE_SIZE, query.cursor.clone())?;
        let found = state
            .app
            .store
            .page_groups(tenant.id, page)
            .await
            .map_err(AdminError::from)?;
        let next = next_page_link(&base, found.next_after.map(encode_cursor));
        (found.items, None, next)
    } else {
        let search = SearchPage::new(query.page);
        let request = search.request(
            ResourceType::Group,
            &group_search_filter(&needle),
            "displayName",
        )?;
        let listing = state
            .app
            .store
            .list_groups(tenant.id, &request)
            .await
            .map_err(AdminError::from)?;
        let next = search.next_link(&base, &needle, listing.items.len(), listing.total);
        (listing.items, Some(listing.total), next)
    };
    ok(&GroupsPage {
        chrome: Chrome::signed_in(&site.base, &signed),
        title: format!("{} · Groups", tenant.name),
        notice: Notice::None,
        tab: "groups",
        slug: tenant.slug.to_string(),
        query: needle,
        groups: groups
            .into_iter()
            .map(|g| GroupRow {
                id: g.id.to_string(),
                display_name: g.display_name,
                external_id: g.external_id.unwrap_or_default(),
                created_at: when(g.created_at),
                updated_at: when(g.updated_at),
            })
            .collect(),
        total,
        next_page,
    })
}

/// Members shown per page of a group.
const MEMBERS_PER_PAGE: usize = 100;

pub struct MemberRow {
    pub display: String,
    pub kind: &'static str,
    pub id: String,
}

#[derive(Template)]
#[template(path = "console/group.html")]
struct GroupPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    group: GroupRow,
    member_count: usize,
    members: Vec<MemberRow>,
    next_page: Option<String>,
    previous_page: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupQuery {
    page: Option<usize>,
}

/// One group and its members. The store has no per-group member count, so the
/// count comes from the members read here, for this one group only.
pub async fn group(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, id)): Path<(String, uuid::Uuid)>,
    Query(query): Query<GroupQuery>,
) -> Result<Response, ConsoleError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let group = state
        .app
        .store
        .group_by_id(tenant.id, id)
        .await
        .map_err(AdminError::from)?
        .ok_or(ConsoleError::NotFound)?;
    let mut members: Vec<MemberRow> = state
        .app
        .store
        .group_members(tenant.id, &[id])
        .await
        .map_err(AdminError::from)?
        .into_iter()
        .map(|(_, m)| MemberRow {
            display: m.display.unwrap_or_default(),
            kind: match m.kind {
                idbridge_store::MemberKind::User => "User",
                idbridge_store::MemberKind::Group => "Group",
            },
            id: m.id.to_string(),
        })
        .collect();
    members.sort_by_key(|m| m.display.to_lowercase());
    let member_count = members.len();
    let number = query.page.unwrap_or(1).max(1);
    let base = site.path(&format!("/tenants/{}/groups/{id}", tenant.slug));
    let link = |n: usize| format!("{base}?page={n}");
    let members: Vec<MemberRow> = members
        .into_iter()
        .skip((number - 1).saturating_mul(MEMBERS_PER_PAGE))
        .take(MEMBERS_PER_PAGE)
        .collect();
    ok(&GroupPage {
        chrome: Chrome::signed_in(&site.base, &signed),
        title: format!("{} · {}", tenant.name, group.display_name),
        notice: Notice::None,
        tab: "groups",
        slug: tenant.slug.to_string(),
        next_page: (number.saturating_mul(MEMBERS_PER_PAGE) < member_count)
            .then(|| link(number + 1)),
        previous_page: (number > 1).then(|| link(number - 1)),
        group: GroupRow {
            id: group.id.to_string(),
            display_name: group.display_name,
            external_id: group.external_id.unwrap_or_default(),
            created_at: when(group.created_at),
            updated_at: when(group.updated_at),
        },
        member_count,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_stays_a_string_in_the_filter() {
        let filter = search_filter(r#"a" or userName pr or "\"#);
        let parsed = idbridge_scim::query::list_request(
            ResourceType::User,
            Some(&filter),
            None,
            None,
            None,
            None,
        );
        assert!(parsed.is_ok(), "{filter}");
        assert!(
            filter.starts_with(r#"userName co "a\" or userName pr or \"\\" or displayName co"#),
            "{filter}"
        );
        let groups = group_search_filter(r#"x" or displayName pr or ""#);
        assert!(
            idbridge_scim::query::list_request(
                ResourceType::Group,
                Some(&groups),
                None,
                None,
                None,
                None
            )
            .is_ok(),
            "{groups}"
        );
    }
}

pub struct SignInRow {
    pub occurred_at: String,
    /// The connection's name (empty when not known; "removed" when it is gone).
    pub connection: String,
    pub success: bool,
    pub reason: String,
    pub detail: String,
    pub email: String,
    pub test: bool,
    pub request_id: String,
}

pub struct ProvisioningRow {
    pub occurred_at: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub reason: String,
    pub request_id: String,
}

#[derive(Template)]
#[template(path = "console/logs.html")]
struct LogsPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    sign_ins: Vec<SignInRow>,
    provisioning: Vec<ProvisioningRow>,
    next_page: Option<String>,
    /// The filters as the form shows them (empty: not filtered).
    filter: LogForm,
}

/// What the filter form holds, echoed back so it shows what the list shows.
#[derive(Debug, Default)]
pub struct LogForm {
    pub outcome: String,
    pub reason: String,
    pub email: String,
    pub method: String,
}

impl LogForm {
    fn of(params: &LogParams) -> Self {
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
        Self {
            outcome: text(&params.outcome),
            reason: text(&params.reason),
            email: text(&params.email),
            method: text(&params.method).to_ascii_uppercase(),
        }
    }

    pub fn is_filtered(&self) -> bool {
        !(self.outcome.is_empty()
            && self.reason.is_empty()
            && self.email.is_empty()
            && self.method.is_empty())
    }

    /// The next page's link: the cursor and every filter, so paging never drops one.
    fn next_link(&self, base: &str, next: Option<uuid::Uuid>) -> Option<String> {
        next.map(|id| {
            let mut query = vec![("cursor", encode_cursor(id))];
            for (name, value) in [
                ("outcome", &self.outcome),
                ("reason", &self.reason),
                ("email", &self.email),
                ("method", &self.method),
            ] {
                if !value.is_empty() {
                    query.push((name, value.clone()));
                }
            }
            format!(
                "{base}?{}",
                serde_urlencoded::to_string(query).unwrap_or_default()
            )
        })
    }
}

/// The page request of a log: the console's page size, the cursor of the link.
fn log_page(params: &LogParams) -> Result<PageRequest, AdminError> {
    Ok(LogParams {
        limit: Some(50),
        cursor: params.cursor.clone().filter(|c| !c.is_empty()),
        ..LogParams::default()
    }
    .page_request()?)
}

/// Every sign-in attempt, newest first, with its outcome and reason; filtered by
/// outcome, reason and email with the admin API's own rules ([`LogParams`]).
pub async fn sign_ins(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Response, ConsoleError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let form = LogForm::of(&params);
    let base = site.path(&format!("/tenants/{}/sign-ins", tenant.slug));
    let mut page = LogsPage {
        chrome: Chrome::signed_in(&site.base, &signed),
        title: format!("{} · Sign-in log", tenant.name),
        notice: Notice::None,
        tab: "sign-ins",
        slug: tenant.slug.to_string(),
        next_page: None,
        sign_ins: Vec::new(),
        provisioning: Vec::new(),
        filter: form,
    };
    let filter = match params.sign_in_filter() {
        Ok(filter) => filter,
        Err(e) => {
            page.notice = Notice::Error(e.to_string());
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let found = state
        .app
        .store
        .list_sign_ins_filtered(tenant.id, &filter, log_page(&params)?)
        .await
        .map_err(AdminError::from)?;
    page.next_page = page.filter.next_link(&base, found.next_after);
    // Which connection each came through, by name (a tenant has a handful).
    let names: std::collections::HashMap<uuid::Uuid, String> =
        idbridge_app::idp_connections::list(&state.app, tenant.slug.as_str())
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
    page.sign_ins = found
        .items
        .into_iter()
        .map(|e| SignInRow {
            connection: match e.connection_id {
                Some(id) => names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "(removed)".to_owned()),
                None => String::new(),
            },
            occurred_at: when(e.occurred_at),
            success: e.success,
            reason: e.reason.unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
            email: e.email.unwrap_or_default(),
            test: e.test,
            request_id: e.request_id.unwrap_or_default(),
        })
        .collect();
    ok(&page)
}

/// Every SCIM request that changed something or failed, newest first; filtered by
/// method (the operation) and outcome.
pub async fn provisioning(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Response, ConsoleError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let form = LogForm::of(&params);
    let base = site.path(&format!("/tenants/{}/provisioning", tenant.slug));
    let mut page = LogsPage {
        chrome: Chrome::signed_in(&site.base, &signed),
        title: format!("{} · Provisioning log", tenant.name),
        notice: Notice::None,
        tab: "provisioning",
        slug: tenant.slug.to_string(),
        next_page: None,
        sign_ins: Vec::new(),
        provisioning: Vec::new(),
        filter: form,
    };
    let filter = match params.provisioning_filter() {
        Ok(filter) => filter,
        Err(e) => {
            page.notice = Notice::Error(e.to_string());
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let found = state
        .app
        .store
        .list_provisioning_filtered(tenant.id, &filter, log_page(&params)?)
        .await
        .map_err(AdminError::from)?;
    page.next_page = page.filter.next_link(&base, found.next_after);
    page.provisioning = found
        .items
        .into_iter()
        .map(|r| ProvisioningRow {
            occurred_at: when(r.occurred_at),
            method: r.method,
            path: r.path,
            status: r.status,
            reason: r.reason.unwrap_or_default(),
            request_id: r.request_id.unwrap_or_default(),
        })
        .collect();
    ok(&page)
}

//! Users the operator adds, deactivates and deletes by hand from the console.
//! Each answers with a redirect (post/redirect/get); a refusal shows the page
//! again with the form as it was sent.

use std::sync::Arc;

use crate::web::Form;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use idbridge_app::directory::manual::{self, NewUser, PersonName, UserChange};
use idbridge_app::tenants;
use uuid::Uuid;

use super::auth::Signed;
use super::directory::{NewUserForm, UsersQuery, users_page};
use super::page::{ConsoleError, Notice, render};
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;

fn optional(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

pub async fn create(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<NewUserForm>,
) -> Result<Response, ConsoleError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let input = NewUser {
        email: form.email.clone(),
        name: Some(PersonName {
            given_name: optional(&form.given_name),
            family_name: optional(&form.family_name),
        }),
        roles: Some(optional(&form.role).into_iter().collect()),
        active: Some(true),
    };
    let done = manual::create(&state.app, &tenant, input, &signed.audit).await;
    answer(&state, &site, &signed, &slug, done, "created", form).await
}

/// After a change: back to the users page saying `done` (post/redirect/get), or,
/// refused, the page again with the reason and the add-user form as it was sent.
async fn answer<T>(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    result: Result<T, idbridge_app::Error>,
    done: &str,
    form: NewUserForm,
) -> Result<Response, ConsoleError> {
    match result.map_err(AdminError::from) {
        Ok(_) => Ok(see_other(
            site,
            &format!("/tenants/{slug}/users?done={done}"),
        )),
        Err(e) if !e.status().is_server_error() => {
            let notice = Notice::Error(e.to_string());
            let mut page =
                users_page(state, site, signed, slug, UsersQuery::default(), notice).await?;
            page.new_user = form;
            render(e.status(), &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `activate` or `deactivate` a user.
pub async fn set_active(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, id, action)): Path<(String, Uuid, String)>,
) -> Result<Response, ConsoleError> {
    let active = match action.as_str() {
        "activate" => true,
        "deactivate" => false,
        _ => return Err(ConsoleError::NotFound),
    };
    let tenant = tenants::find(&state.app, &slug).await?;
    let change = UserChange {
        active: Some(active),
        ..UserChange::default()
    };
    let done = manual::change(&state.app, &tenant, id, change, &signed.audit).await;
    let said = if active { "activated" } else { "deactivated" };
    answer(
        &state,
        &site,
        &signed,
        &slug,
        done,
        said,
        NewUserForm::default(),
    )
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, id)): Path<(String, Uuid)>,
) -> Result<Response, ConsoleError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    manual::delete(&state.app, &tenant, id, &signed.audit)
        .await
        .map_err(AdminError::from)?;
    Ok(see_other(
        &site,
        &format!("/tenants/{slug}/users?done=deleted"),
    ))
}

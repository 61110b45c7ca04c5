//! The end of setup: "Finish setup" once every step is done, which tells the app (a
//! `setup.completed` event) and the operator (the audit log, the console), and the
//! "All set" page it leads to.

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::page::{Chrome, GuideForm, PortalError, choose_guide, ok, render};
use super::visit::Visitor;
use super::{Site, see_other};
use crate::AppState;
use idbridge_app::setup_links::{self, SetupProgress};

#[derive(Template)]
#[template(path = "portal/done.html")]
struct DonePage {
    chrome: Chrome,
    title: &'static str,
    progress: SetupProgress,
    /// Finish was pressed before every step was done.
    unfinished: bool,
    /// Finish was just pressed: the app has been told.
    finished: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneQuery {
    guide: Option<String>,
    finished: Option<String>,
}

/// `POST /setup/finish`: refused (with what is left) unless every step is done.
pub async fn finish(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<GuideForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    // Whether provisioning is a step is the link's IdP's to say, not the form's.
    let done = setup_links::complete(
        &state.app,
        &visitor.tenant,
        visitor.link_id,
        visitor.provider.pushes_scim(),
        &visitor.audit,
    )
    .await;
    match done {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/done?guide={}&finished=1", guide.as_str()),
        )),
        Err(idbridge_app::Error::Invalid(_)) => {
            let page = DonePage {
                progress: setup_links::progress(&state.app, &visitor.tenant).await?,
                chrome: Chrome::new(&site, &visitor, guide, "overview"),
                title: "A step is not finished yet",
                unfinished: true,
                finished: false,
            };
            render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /setup/done`: "All set".
pub async fn done(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(query.guide.as_deref(), &visitor);
    let progress = setup_links::progress(&state.app, &visitor.tenant).await?;
    let unfinished = !progress.is_complete(visitor.provider.pushes_scim());
    ok(&DonePage {
        chrome: Chrome::new(&site, &visitor, guide, "overview"),
        title: if unfinished {
            "A step is not finished yet"
        } else {
            "All set"
        },
        progress,
        unfinished,
        finished: query.finished.is_some() && !unfinished,
    })
}

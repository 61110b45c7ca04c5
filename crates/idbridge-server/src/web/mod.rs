//! Every HTML page idbridge serves, rendered from askama templates
//! (`templates/`): the operator console ([`console`], `/admin`), the setup portal
//! for tenants' IT admins ([`portal`], `/setup`), and the pages a browser meets in a
//! sign-in flow ([`flow`]: refusals and the "test connection" result). Templates
//! escape everything they are given; none marks user data `|safe`.

pub mod console;
pub(crate) mod fields;
pub mod flow;
mod input;
pub mod portal;

pub(crate) use input::{Form, InputRefused, Query};

use idbridge_app::App;
use idbridge_app::shown_once::{self, ShownOnceKey};
use secrecy::ExposeSecret;
use uuid::Uuid;

/// What a page's `shown` parameter found (see [`idbridge_app::shown_once`]).
pub(crate) enum Shown {
    /// The address names no secret.
    Nothing,
    /// The secret, on this answer only.
    Secret(String),
    /// It was shown already, expired, or is another visitor's.
    Gone,
}

impl Shown {
    /// Takes the secret the address names, if any.
    pub(crate) async fn take(
        app: &App,
        key: &ShownOnceKey,
        id: Option<Uuid>,
    ) -> Result<Self, idbridge_app::Error> {
        let Some(id) = id else {
            return Ok(Shown::Nothing);
        };
        Ok(match shown_once::take(app, key, id).await? {
            Some(secret) => Shown::Secret(secret.expose_secret().to_owned()),
            None => Shown::Gone,
        })
    }

    /// The page's notice: `made` when the secret is here, a plain word when it is
    /// gone, `otherwise` when the address names none.
    pub(crate) fn notice(
        &self,
        made: &str,
        otherwise: console::page::Notice,
    ) -> console::page::Notice {
        use console::page::Notice;
        match self {
            Shown::Nothing => otherwise,
            Shown::Secret(_) => Notice::Success(made.to_owned()),
            Shown::Gone => Notice::Error(
                "That secret was already shown once; idbridge cannot show it again. If it was \
                 not copied, make a new one and revoke the old."
                    .to_owned(),
            ),
        }
    }

    pub(crate) fn secret(self) -> Option<String> {
        match self {
            Shown::Secret(s) => Some(s),
            _ => None,
        }
    }
}

//! What SCIM handlers take from a request: a JSON body (either `application/scim+json`
//! or `application/json`), case-insensitive query parameters, preconditions, and the
//! request's identity for the provisioning log.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use idbridge_scim::ScimError;
use serde_json::Value;

pub use idbridge_app::directory::VersionMatch;

use super::error::ScimProblem;
use crate::AppState;

/// A request body parsed as JSON.
pub struct ScimBody(pub Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ScimProblem;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        // IdPs send application/scim+json (Okta) or application/json (Entra ID).
        if let Some(ct) = &content_type
            && !(ct == "application/json" || ct.ends_with("+json"))
        {
            return Err(ScimError::new(
                415,
                None,
                "send the body as application/scim+json or application/json",
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(
                    413,
                    None,
                    format!(
                        "the body is larger than {} bytes",
                        state.config.scim_body_limit.bytes()
                    ),
                )
            } else {
                ScimError::invalid_syntax("the request body could not be read")
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))?;
        idbridge_scim::resource::refuse_nul(&value)?;
        Ok(Self(value))
    }
}

/// Query parameters, looked up case-insensitively (`startIndex`, `StartIndex`).
pub struct ScimParams(HashMap<String, String>);

impl ScimParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ScimParams {
    type Rejection = ScimProblem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ScimError::invalid_value("the query string is malformed"))?;
        Ok(Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ))
    }
}

/// `If-Match` / `If-None-Match`, as versions (`W/"3"` → 3; `*` → any).
#[derive(Debug, Default)]
pub struct Preconditions {
    pub if_match: Option<VersionMatch>,
    pub if_none_match: Option<VersionMatch>,
}

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = ScimProblem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let read = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(VersionMatch::parse)
        };
        Ok(Self {
            if_match: read(header::IF_MATCH),
            if_none_match: read(header::IF_NONE_MATCH),
        })
    }
}

/// The request as the provisioning log records it.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub method: String,
    pub path: String,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ScimProblem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

impl RequestMeta {
    pub fn of(parts: &Parts) -> Self {
        // Inside a nested router the URI has lost its prefix; the original has it.
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|o| &o.0)
            .unwrap_or(&parts.uri);
        Self {
            method: parts.method.as_str().to_owned(),
            // The path, never the query: a filter may carry personal data, and the
            // log says which resource, not what was searched.
            path: uri.path().to_owned(),
            request_id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }
}

/// The parameters of a list: from the query string of `GET /Users`, or from the body
/// of `POST /Users/.search` (RFC 7644 §3.4.3).
#[derive(Debug, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl ListQuery {
    pub fn from_params(params: &ScimParams) -> Self {
        let get = |name: &str| params.get(name).map(str::to_owned);
        Self {
            filter: get("filter"),
            sort_by: get("sortBy"),
            sort_order: get("sortOrder"),
            start_index: get("startIndex"),
            count: get("count"),
            attributes: get("attributes"),
            excluded_attributes: get("excludedAttributes"),
        }
    }

    pub fn from_search_request(body: &Value) -> Result<Self, ScimProblem> {
        const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a search request must be a JSON object"))?;
        let field = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let declares = field("schemas").and_then(Value::as_array).is_some_and(|s| {
            s.iter().any(|v| {
                v.as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(SEARCH_REQUEST))
            })
        });
        if !declares {
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" must be [\"{SEARCH_REQUEST}\"]"
            ))
            .into());
        }
        let text = |name: &str| -> Result<Option<String>, ScimProblem> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => {
                    Err(ScimError::invalid_value(format!("{name} has the wrong type")).into())
                }
            }
        };
        let list = |name: &str| -> Result<Option<String>, ScimProblem> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => {
                    let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    names.map(|n| Some(n.join(","))).ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must list strings")).into()
                    })
                }
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} must be an array of attribute names"
                ))
                .into()),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: text("startIndex")?,
            count: text("count")?,
            attributes: list("attributes")?,
            excluded_attributes: list("excludedAttributes")?,
        })
    }
}

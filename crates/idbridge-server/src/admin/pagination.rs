//! Cursor pagination for every admin list: `?limit=&cursor=` in,
//! `{"data": [...], "next_cursor": ...}` out. A cursor is the opaque, base64url form
//! of the last id on the page (ids are time-ordered UUIDv7s).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_store::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AdminError;

pub const DEFAULT_LIMIT: u32 = 50;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn page_request(&self) -> Result<PageRequest, AdminError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
            return Err(AdminError::InvalidRequest(format!(
                "limit must be between 1 and {}",
                PageRequest::MAX_LIMIT
            )));
        }
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, after })
    }
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<Uuid, AdminError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| AdminError::InvalidCursor)?;
    Uuid::from_slice(&bytes).map_err(|_| AdminError::InvalidCursor)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    pub fn from_page<R>(page: Page<R>, view: impl FnMut(R) -> T) -> Self {
        Self {
            data: page.items.into_iter().map(view).collect(),
            next_cursor: page.next_after.map(encode_cursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = Uuid::now_v7();
        let params = ListParams {
            limit: Some(10),
            cursor: Some(encode_cursor(id)),
        };
        assert_eq!(
            params.page_request().ok(),
            Some(PageRequest {
                limit: 10,
                after: Some(id)
            })
        );
        for bad in ["", "!!", "AAAA", &encode_cursor(id)[1..]] {
            let params = ListParams {
                limit: None,
                cursor: Some(bad.into()),
            };
            assert!(
                matches!(params.page_request(), Err(AdminError::InvalidCursor)),
                "{bad}"
            );
        }
    }

    #[test]
    fn limit_is_bounded() {
        for (limit, ok) in [
            (None, true),
            (Some(1), true),
            (Some(200), true),
            (Some(0), false),
            (Some(201), false),
        ] {
            let params = ListParams {
                limit,
                cursor: None,
            };
            assert_eq!(params.page_request().is_ok(), ok, "{limit:?}");
        }
    }
}

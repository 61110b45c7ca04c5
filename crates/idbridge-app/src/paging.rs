//! Keyset pages of the operator-facing lists: `limit` (1 to 200, default 50) items
//! after a `cursor`, answered as `{"data": [...], "next_cursor": ...}`. A cursor is
//! the opaque, base64url form of the last id on the page (ids are time-ordered
//! UUIDv7s).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_store::{Page, PageRequest};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
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

pub const DEFAULT_LIMIT: u32 = 50;

/// The page a list asks for: `limit` (1 to 200, default 50) items after `cursor`.
pub fn page_request(limit: Option<u32>, cursor: Option<&str>) -> crate::Result<PageRequest> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
        return Err(crate::Error::Invalid(format!(
            "limit must be between 1 and {}",
            PageRequest::MAX_LIMIT
        )));
    }
    let after = cursor.map(decode_cursor).transpose()?;
    Ok(PageRequest { limit, after })
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> crate::Result<Uuid> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| crate::Error::InvalidCursor)?;
    Uuid::from_slice(&bytes).map_err(|_| crate::Error::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(
            page_request(Some(10), Some(&encode_cursor(id))).ok(),
            Some(PageRequest {
                limit: 10,
                after: Some(id)
            })
        );
        for bad in ["", "!!", "AAAA", &encode_cursor(id)[1..]] {
            assert!(
                matches!(
                    page_request(None, Some(bad)),
                    Err(crate::Error::InvalidCursor)
                ),
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
            assert_eq!(page_request(limit, None).is_ok(), ok, "{limit:?}");
        }
    }
}

//! Cursor pagination for every admin list: `?limit=&cursor=` in,
//! `{"data": [...], "next_cursor": ...}` out ([`List`], the application's list
//! shape, which the CLI prints too).

use idbridge_store::PageRequest;
use serde::Deserialize;

pub use idbridge_app::views::{List, encode_cursor};

use crate::error::AdminError;

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
        Ok(idbridge_app::views::page_request(
            self.limit,
            self.cursor.as_deref(),
        )?)
    }
}

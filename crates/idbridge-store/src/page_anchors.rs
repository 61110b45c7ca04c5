//! Where the next page of a walk starts, so that walking a directory page by page
//! costs each page, not the pages before it.
//!
//! Okta's import and Entra ID's initial cycle read every user with
//! `startIndex=1, 101, 201, …` and no filter or sort. With OFFSET, the page near the
//! end of a million users skips a million index entries. Each full page served here
//! leaves an anchor: "position `start_index + count` comes after id X". The next
//! page finds it and reads `id > X` from the `(tenant_id, id)` index instead.
//!
//! What this changes in the answers: nothing for inserts (ids are UUIDv7, so a new
//! resource sorts after every existing one, as with OFFSET). A resource deleted
//! behind the walk would move every later one position forward under OFFSET, which
//! makes the walk skip one; with an anchor it does not (RFC 7644 §3.4.2.4 leaves
//! consistency across pages to the provider). Anchors live in this process only and
//! for [`TTL`]: a page asked of another process, or later, is found by OFFSET, as
//! correct and as slow as before.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::scim_sql::Table;

/// How long an anchor is used: an import reads its next page within seconds.
pub(crate) const TTL: Duration = Duration::from_secs(600);
/// Most anchors kept: about 100 bytes each.
const CAPACITY: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    tenant_id: Uuid,
    table: Table,
    start_index: usize,
}

#[derive(Debug, Default)]
pub(crate) struct PageAnchors {
    anchors: Mutex<HashMap<Key, (Uuid, Instant)>>,
}

impl PageAnchors {
    /// The id the page at `start_index` starts after, if a page before it left one.
    pub(crate) fn get(&self, tenant_id: Uuid, table: Table, start_index: usize) -> Option<Uuid> {
        let key = Key {
            tenant_id,
            table,
            start_index,
        };
        let anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
        anchors
            .get(&key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(id, _)| *id)
    }

    /// Records that the page at `start_index` starts after `after`.
    pub(crate) fn put(&self, tenant_id: Uuid, table: Table, start_index: usize, after: Uuid) {
        let key = Key {
            tenant_id,
            table,
            start_index,
        };
        let mut anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
        if anchors.len() >= CAPACITY && !anchors.contains_key(&key) {
            anchors.retain(|_, (_, at)| at.elapsed() < TTL);
            if anchors.len() >= CAPACITY {
                // Many walks at once: start over rather than track which is oldest.
                anchors.clear();
            }
        }
        anchors.insert(key, (after, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_is_found_by_tenant_table_and_position() {
        let anchors = PageAnchors::default();
        let (t, id) = (Uuid::now_v7(), Uuid::now_v7());
        anchors.put(t, Table::Users, 101, id);
        assert_eq!(anchors.get(t, Table::Users, 101), Some(id));
        assert_eq!(anchors.get(t, Table::Groups, 101), None);
        assert_eq!(anchors.get(t, Table::Users, 201), None);
        assert_eq!(anchors.get(Uuid::now_v7(), Table::Users, 101), None);
    }

    #[test]
    fn anchors_stay_bounded() {
        let anchors = PageAnchors::default();
        let t = Uuid::now_v7();
        for i in 0..CAPACITY + 10 {
            anchors.put(t, Table::Users, i, Uuid::now_v7());
        }
        let len = anchors.anchors.lock().map(|a| a.len()).unwrap_or_default();
        assert!(len <= CAPACITY, "{len}");
    }
}

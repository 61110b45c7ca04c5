//! What the directory does its own way on SQLite: appending a write's events to the
//! tenant's feed. The rest is `crate::repo::directory`.

use sqlx::{Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::Result;
use crate::db::FeedWrite;
use crate::db::{Scalar, Ts, query};

/// Moves the tenant's counter past the events, then inserts them one by one. The
/// transaction has held the file's write lock since its `BEGIN IMMEDIATE`, so there
/// is no row lock to keep short, and each insert is a call within the process, not
/// a round trip over a network.
pub(super) async fn append_events(conn: &mut SqliteConnection, feed: FeedWrite<'_>) -> Result<()> {
    let count = feed.events.len() as i64;
    let Scalar(last): Scalar<i64> = query::<Sqlite>(
        "UPDATE tenants SET event_seq = event_seq + $2, user_count = user_count + $3, \
         group_count = group_count + $4 WHERE id = $1 RETURNING event_seq",
    )
    .bind(feed.tenant_id)
    .bind(count)
    .bind(feed.user_delta)
    .bind(feed.group_delta)
    .fetch_one(&mut *conn)
    .await?;
    let first = last - count + 1;
    for (offset, event) in feed.events.into_iter().enumerate() {
        query::<Sqlite>(
            "INSERT INTO directory_events (tenant_id, seq, id, type, resource_type, resource_id, occurred_at, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(feed.tenant_id)
        .bind(first + offset as i64)
        .bind(Uuid::now_v7())
        .bind(event.kind.as_str())
        .bind(event.resource_type.as_str())
        .bind(event.resource_id)
        .bind(Ts(feed.now))
        .bind(event.data.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

//! What the directory does its own way on SQLite: appending a batch's events to the
//! tenant's feed. The rest is `crate::repo::directory`.

use sqlx::{Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::Result;
use crate::db::FeedWrite;
use crate::db::{Scalar, Ts, query, query_built, values_rows};

/// The most events one `INSERT` carries: 8 values each, far inside SQLite's limit
/// on a statement's parameters.
const EVENTS_PER_INSERT: usize = 128;

/// Moves the tenant's counter past the events, then inserts them, many to a
/// statement. The transaction has held the file's write lock since its `BEGIN
/// IMMEDIATE`, so there is no row lock to keep short; but every statement is a
/// hand-off to the connection's worker thread and back, so they are few.
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
    let mut seq = last - count;
    for events in feed.events.chunks(EVENTS_PER_INSERT) {
        let mut text = String::from(
            "INSERT INTO directory_events \
             (tenant_id, seq, id, type, resource_type, resource_id, occurred_at, data) VALUES ",
        );
        values_rows(&mut text, 1, events.len(), 8);
        let mut insert = query_built::<Sqlite>(text);
        for (event, at) in events {
            seq += 1;
            insert = insert
                .bind(feed.tenant_id)
                .bind(seq)
                .bind(Uuid::now_v7())
                .bind(event.kind.as_str())
                .bind(event.resource_type.as_str())
                .bind(event.resource_id)
                .bind(Ts(*at))
                .bind(event.data.to_string());
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

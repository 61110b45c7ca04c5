//! What the directory does its own way on PostgreSQL: appending a batch's events to
//! the tenant's feed, in one statement. The rest is `crate::repo::directory`.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::FeedWrite;
use crate::{Result, StoreError};

/// Moves the tenant's counter and counts and writes every event, in one statement.
pub(super) async fn append_events(conn: &mut PgConnection, feed: FeedWrite<'_>) -> Result<()> {
    // The tenant row is the per-tenant sequencer, and its lock serialises the
    // tenant's writers until commit. Taking it in the last statement, which also
    // writes every event, keeps that window to one round trip and the commit.
    let events = &feed.events;
    let count = events.len() as i64;
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let kinds: Vec<&str> = events.iter().map(|(e, _)| e.kind.as_str()).collect();
    let resource_types: Vec<&str> = events
        .iter()
        .map(|(e, _)| e.resource_type.as_str())
        .collect();
    let resource_ids: Vec<Uuid> = events.iter().map(|(e, _)| e.resource_id).collect();
    let data: Vec<String> = events.iter().map(|(e, _)| e.data.to_string()).collect();
    let times: Vec<time::OffsetDateTime> = events.iter().map(|(_, at)| *at).collect();
    sqlx::query_scalar::<_, i64>(
        "WITH seq AS ( \
             UPDATE tenants SET event_seq = event_seq + $2, user_count = user_count + $3, \
             group_count = group_count + $4 WHERE id = $1 RETURNING event_seq \
         ), written AS ( \
             INSERT INTO directory_events (tenant_id, seq, id, type, resource_type, resource_id, occurred_at, data) \
             SELECT $1, seq.event_seq - $2 + e.ord, e.id, e.type, e.resource_type, e.resource_id, e.at, e.data::jsonb \
             FROM seq, unnest($5::timestamptz[], $6::uuid[], $7::text[], $8::text[], $9::uuid[], $10::text[]) \
                 WITH ORDINALITY AS e(at, id, type, resource_type, resource_id, data, ord) \
         ) SELECT event_seq FROM seq",
    )
    .bind(feed.tenant_id)
    .bind(count)
    .bind(feed.user_delta)
    .bind(feed.group_delta)
    .bind(times)
    .bind(ids)
    .bind(kinds)
    .bind(resource_types)
    .bind(resource_ids)
    .bind(data)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(())
}

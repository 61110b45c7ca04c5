//! What the directory does its own way on SQLite: appending a write's events to the
//! tenant's feed. The rest is `crate::repo::directory`.

use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::db::{Scalar, Ts, query};
use crate::repo::directory::FeedWrite;
use crate::scim_sql::Bind;
use crate::{NewEvent, Result, WriteContext};

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

/// [`crate::repo::directory::finish_write`] on this backend's connection.
/// Transitional: saml and domain, still written per backend, end their writes here.
pub(super) async fn finish_write(
    conn: &mut SqliteConnection,
    tenant_id: Uuid,
    ctx: &WriteContext,
    extra_events: Vec<NewEvent>,
    user_delta: i64,
    group_delta: i64,
) -> Result<()> {
    crate::repo::directory::finish_write::<Sqlite>(
        conn,
        tenant_id,
        ctx,
        extra_events,
        user_delta,
        group_delta,
    )
    .await
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// Binds a compiled query's values. Transitional: saml's sign-in log page, still
/// written per backend; the one store logic binds with `Db::bind_dynamic`.
pub(super) fn bind_all(mut query: SqliteQuery<'_>, binds: Vec<Bind>) -> SqliteQuery<'_> {
    for bind in binds {
        query = match bind {
            Bind::Text(v) => query.bind(v),
            Bind::Int(v) => query.bind(v),
            Bind::Float(v) => query.bind(v),
            Bind::Bool(v) => query.bind(v),
            Bind::Uuid(v) => query.bind(v),
            Bind::Time(v) => query.bind(super::micros(v)),
            // JSON paths are text on SQLite; arrays only arise for PostgreSQL.
            Bind::TextArray(v) => query.bind(v.join(".")),
        };
    }
    query
}

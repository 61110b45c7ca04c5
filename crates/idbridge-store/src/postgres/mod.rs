//! The production backend: PostgreSQL, shared by any number of idbridge processes.
//!
//! Native types throughout (uuid, timestamptz, bytea, json and jsonb). Every operation is a
//! single statement or an explicit transaction, so two processes never see half of
//! one another's work.
//!
//! What this backend supplies to the one store logic ([`crate::db::Db`]): binding,
//! running statements, migrations under an advisory lock, the sign-in group commit
//! as two `unnest` statements per batch, and its few statements of its own.

use std::str::FromStr;

use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{Arguments as _, Pool, Postgres, SqlStr};

#[cfg(test)]
use crate::Store;
use crate::db::FeedWrite;
use crate::db::{Db, Param};
use crate::readers::Readers;
use crate::repo::SqlStore;
use crate::scim_sql::Bind;
use crate::sign_in_batch::{SignInWrite, Written};
use crate::{Backend, DatabaseUrl, PoolSettings, Result, StoreError};

mod directory;
mod domain;
mod sign_in_batch;
mod webhook;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a connection may sit unused before it is pinged on its way out.
const PING_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The store on a PostgreSQL database.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Prepares a pool; connects lazily, on the first query.
    pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self> {
        let options = PgConnectOptions::from_str(url.expose_secret())
            .map_err(StoreError::Backend)?
            .application_name("idbridge");
        // The budget split: readers kept by the store (`crate::readers`, no ping
        // as each is given back) and writers in sqlx's pool, half each (at least
        // one of each).
        let total = settings.max_connections.max(1);
        let readers = (total / 2).max(1);
        let writers = (total - readers).max(1);
        // sqlx pings every connection before handing it out: a round trip to the
        // server before each query, which doubled a sign-in's round trips. A
        // connection in steady use has just proved itself; one that sat idle (the
        // server may have restarted, a proxy may have cut it) is still pinged.
        let pool = PgPoolOptions::new()
            .max_connections(writers)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        let readers = Readers::new(pool.clone(), readers, Some(PING_WHEN_IDLE_FOR));
        Ok(Self::new(readers, pool))
    }
}

impl Db for Postgres {
    const BACKEND: Backend = Backend::Postgres;
    const BEGIN_WRITE: &'static str = "BEGIN";
    const UPDATES_TOGETHER: bool = true;
    const CLIENT_FOR_REDIRECT_URI: &'static str = "SELECT id FROM oidc_clients \
         WHERE redirect_uris @> jsonb_build_array($1::text) ORDER BY id LIMIT 1";
    /// FOR UPDATE: a concurrent redemption of the same code waits here until this
    /// one commits, then finds it used (and revokes the token stored by the first).
    const CODE_TO_REDEEM: &'static str =
        "SELECT * FROM authorization_codes WHERE code_hash = $1 FOR UPDATE";
    const TENANT_FOR_VERIFIED_DOMAIN: &'static str = domain::TENANT_FOR_VERIFIED_DOMAIN;
    const DOMAINS_TO_RECHECK: &'static str = domain::DOMAINS_TO_RECHECK;
    const DOMAIN_VERIFIED_ELSEWHERE: &'static str = domain::VERIFIED_ELSEWHERE;
    const DOMAIN_TO_CHECK: &'static str = domain::DOMAIN_TO_CHECK;
    const WEBHOOK_ANY_DUE_RECENTLY: &'static str = webhook::ANY_DUE_RECENTLY;
    const WEBHOOK_CLAIM_DUE_RECENTLY: &'static str = webhook::CLAIM_DUE_RECENTLY;
    const MAIL_CLAIM: &'static str = crate::repo::mail::CLAIM_SKIP_LOCKED;

    fn bind<'q, T: Param<'q>>(args: &mut PgArguments, value: T) -> Result<(), BoxDynError> {
        args.add(value)
    }

    fn bind_dynamic(args: &mut PgArguments, value: Bind) -> Result<(), BoxDynError> {
        match value {
            Bind::Text(v) => args.add(v),
            Bind::Int(v) => args.add(v),
            Bind::Float(v) => args.add(v),
            Bind::Bool(v) => args.add(v),
            Bind::Uuid(v) => args.add(v),
            Bind::Time(v) => args.add(v),
            Bind::TextArray(v) => args.add(v),
            Bind::Bytes(v) => args.add(v),
        }
    }

    async fn fetch_all(
        conn: &mut PgConnection,
        sql: SqlStr,
        args: PgArguments,
    ) -> Result<Vec<PgRow>> {
        Ok(sqlx::query_with(sql, args).fetch_all(conn).await?)
    }

    async fn fetch_optional(
        conn: &mut PgConnection,
        sql: SqlStr,
        args: PgArguments,
    ) -> Result<Option<PgRow>> {
        Ok(sqlx::query_with(sql, args).fetch_optional(conn).await?)
    }

    async fn execute(conn: &mut PgConnection, sql: SqlStr, args: PgArguments) -> Result<u64> {
        Ok(sqlx::query_with(sql, args)
            .execute(conn)
            .await?
            .rows_affected())
    }

    async fn append_events(conn: &mut PgConnection, feed: FeedWrite<'_>) -> Result<()> {
        directory::append_events(conn, feed).await
    }

    async fn migrate(writer: &Pool<Postgres>) -> Result<()> {
        // sqlx serialises concurrent migrators with an advisory lock.
        MIGRATOR.run(writer).await?;
        Ok(())
    }

    async fn write_sign_ins(
        writer: &Pool<Postgres>,
        batch: &[&SignInWrite],
    ) -> Result<Vec<Written>> {
        sign_in_batch::write_together(writer, batch).await
    }
}

#[cfg(test)]
use crate::repo::{ACTIVE_ADMIN_KEY, ACTIVE_SCIM_TOKEN, TENANT_BY_SLUG, console, setup_link};
#[cfg(test)]
use time::OffsetDateTime;

#[cfg(test)]
mod index_tests {
    use crate::postgres::*;
    use sqlx::Row as _;

    /// The plan of an `EXPLAIN` of a built [`crate::scim_sql::Sql`], its values
    /// bound as the store binds them: one line per row.
    async fn explain_with(
        conn: &mut PgConnection,
        explain: String,
        binds: Vec<Bind>,
    ) -> Vec<String> {
        let mut args = PgArguments::default();
        for bind in binds {
            <Postgres as Db>::bind_dynamic(&mut args, bind).expect("bind");
        }
        sqlx::query_with(sqlx::AssertSqlSafe(explain), args)
            .fetch_all(conn)
            .await
            .expect("explain")
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect()
    }

    mod scim_filters_idps_send_use_their_index {
        use super::explain_with;
        use crate::postgres::*;
        use crate::scim_sql::{Dialect, IDP_FILTERS, Sql, idp_filter_page_query};

        /// See the SQLite twin. PostgreSQL plans by statistics, so the tables get a
        /// few thousand rows and ANALYZE first: on empty tables every plan costs the
        /// same and the test would prove nothing.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.readers.pool().acquire().await.expect("connection");
            for statement in [
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 VALUES ('00000000-0000-0000-0000-000000000000', 'acme', 'Acme', now(), now())",
                "INSERT INTO directory_users (id, tenant_id, user_name, user_name_lower, external_id, \
                 display_name_lower, active, document, source, created_at, updated_at, version) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', 'u' || n, 'u' || n, \
                 'x' || n, 'd' || n, true, '{}', 'scim', now(), \
                 timestamptz '2026-01-01T00:00:00Z' + n * interval '1 minute', 1 \
                 FROM generate_series(1, 5000) n",
                "INSERT INTO directory_user_emails (user_id, position, tenant_id, value_lower, type_lower, is_primary) \
                 SELECT id, 0, tenant_id, user_name_lower || '@example.com', 'work', true FROM directory_users",
                "INSERT INTO directory_groups (id, tenant_id, display_name, display_name_lower, external_id, \
                 document, created_at, updated_at, version) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', 'g' || n, 'g' || n, 'x' || n, \
                 '{}', now(), now(), 1 FROM generate_series(1, 2000) n",
                "ANALYZE",
            ] {
                sqlx::query(statement)
                    .execute(&mut *conn)
                    .await
                    .expect(statement);
            }
            for (table, filter, index) in IDP_FILTERS {
                let Sql { text, binds, .. } =
                    idp_filter_page_query(Dialect::Postgres, *table, filter);
                let explain = format!("EXPLAIN {text}");
                let plan = explain_with(&mut conn, explain, binds).await;
                assert!(
                    plan.iter().any(|line| line.contains(index)),
                    "{filter}: expected {index}\n{plan:#?}"
                );
                assert!(
                    !plan.iter().any(|line| line.contains("Seq Scan")
                        || (line.contains("Index Cond: (tenant_id = ")
                            && line.ends_with("::uuid)"))),
                    "{filter}: walks the tenant's rows\n{plan:#?}"
                );
            }
            // A lookup that checks its caller's token in its own statement reads
            // the user by its unique index, from the token's tenant.
            let lookup = idbridge_scim::query::list_request(
                idbridge_scim::schema::ResourceType::User,
                Some(r#"userName eq "u42""#),
                None,
                None,
                None,
                None,
            )
            .expect("request");
            let Sql { text, binds, .. } = crate::repo::directory::stored_lookup_as_caller(
                Dialect::Postgres,
                &[0u8; 32],
                "acme",
                &lookup,
                true,
            )
            .expect("a one-row lookup");
            let plan = explain_with(&mut conn, format!("EXPLAIN {text}"), binds).await;
            assert!(
                plan.iter()
                    .any(|line| line.contains("directory_users_user_name_idx")),
                "{plan:#?}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|line| line.contains("Seq Scan on directory_users")),
                "{plan:#?}"
            );
        }
    }

    mod log_filters_use_their_index {
        use super::explain_with;
        use crate::postgres::*;
        use crate::scim_sql::Dialect;

        /// See the SQLite twin. The logs get a few thousand rows in which each
        /// tested value is rare, and ANALYZE, so the plan is the one a real log gets.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.readers.pool().acquire().await.expect("connection");
            for statement in [
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 VALUES ('00000000-0000-0000-0000-000000000000', 'acme', 'Acme', now(), now())",
                "INSERT INTO sign_in_events (id, tenant_id, occurred_at, outcome, reason, email, test) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', now(), \
                 CASE WHEN n % 50 = 0 THEN 'failure' ELSE 'success' END, \
                 CASE WHEN n % 50 = 0 THEN 'reason_' || (n % 500) END, \
                 'User' || n || '@Example.com', false FROM generate_series(1, 5000) n",
                "INSERT INTO provisioning_log (id, tenant_id, occurred_at, method, path, status) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', now(), \
                 CASE WHEN n % 100 = 0 THEN 'DELETE' ELSE 'POST' END, '/Users', \
                 CASE WHEN n % 100 = 1 THEN 500 ELSE 201 END FROM generate_series(1, 5000) n",
                "ANALYZE",
            ] {
                sqlx::query(statement)
                    .execute(&mut *conn)
                    .await
                    .expect(statement);
            }
            for (what, sql, index) in crate::log_filter::indexed_filters() {
                if sql.dialect != Dialect::Postgres {
                    continue;
                }
                let explain = format!("EXPLAIN {}", sql.text);
                let plan = explain_with(&mut conn, explain, sql.binds).await;
                assert!(
                    plan.iter().any(|line| line.contains(index)),
                    "{what}: expected {index}\n{plan:#?}"
                );
                // A bitmap scan of the index and a top-N sort is a fair plan when
                // the index says few rows match (it does here); what must never
                // happen is reading the table.
                assert!(
                    !plan.iter().any(|line| line.contains("Seq Scan")),
                    "{what}: reads the table\n{plan:#?}"
                );
            }
        }
    }

    mod a_recent_webhook_poll_starts_from_its_indexes {
        use crate::postgres::*;
        use sqlx::Row as _;

        /// A recent webhook poll loops over its two index ranges and looks tenants
        /// and cursors up by key, even on tables the planner has no statistics
        /// for (a fresh database, or one whose autovacuum is off): at 10,000
        /// tenants it never reads the tenants or the cursors whole.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.readers.pool().acquire().await.expect("connection");
            for statement in [
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 SELECT gen_random_uuid(), 't' || n, 'T' || n, now(), now() \
                 FROM generate_series(1, 10000) n",
                "INSERT INTO webhook_endpoints (id, url, description, secret, enabled, \
                 created_at, updated_at) SELECT gen_random_uuid(), 'https://x', '', 's', true, \
                 now(), now() FROM generate_series(1, 2)",
                "INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, \
                 failures, next_attempt_at) SELECT e.id, t.id, 0, 'active', 0, 'epoch' \
                 FROM webhook_endpoints e, tenants t",
            ] {
                sqlx::query(statement)
                    .execute(&mut *conn)
                    .await
                    .expect(statement);
            }
            let explain = format!("EXPLAIN {}", webhook::ANY_DUE_RECENTLY);
            // The claim's values: now, the lease's token and expiry, the limit,
            // events after, due after.
            let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(explain))
                .bind(OffsetDateTime::now_utc())
                .bind(uuid::Uuid::now_v7())
                .bind(OffsetDateTime::now_utc() + time::Duration::minutes(5))
                .bind(16_i64)
                .bind(uuid::Uuid::now_v7())
                .bind(OffsetDateTime::now_utc() - time::Duration::minutes(2))
                .fetch_all(&mut *conn)
                .await
                .expect("explain")
                .iter()
                .map(|row| row.get::<String, _>(0))
                .collect();
            for table in ["tenants", "webhook_cursors"] {
                assert!(
                    !plan
                        .iter()
                        .any(|line| line.contains(&format!("Seq Scan on {table}"))),
                    "reads {table} whole\n{plan:#?}"
                );
            }
            assert!(
                plan.iter()
                    .any(|line| line.contains("webhook_cursors_next_attempt_idx")),
                "{plan:#?}"
            );
        }
    }

    mod hot_path_lookups_use_an_index {
        use crate::postgres::*;
        use sqlx::Row as _;

        /// What each lookup's parameters are, so EXPLAIN can type them.
        enum Binds {
            Text,
            Hash,
            TimeAndLimit,
            HashAndTime,
            HashAndTimes,
            Uuid,
        }

        /// Every hot-path lookup can be answered by an index. With sequential scans
        /// disabled, the planner still picks a seq scan only if no index applies.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.readers.pool().acquire().await.expect("connection");
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut *conn)
                .await
                .expect("set");
            for (sql, binds) in [
                (TENANT_BY_SLUG, Binds::Text),
                (ACTIVE_SCIM_TOKEN, Binds::Hash),
                (ACTIVE_ADMIN_KEY, Binds::Hash),
                (domain::TENANT_FOR_VERIFIED_DOMAIN, Binds::Text),
                (domain::DOMAINS_TO_RECHECK, Binds::TimeAndLimit),
                (setup_link::USABLE_SETUP_LINK, Binds::HashAndTime),
                (console::ACTIVE_CONSOLE_SESSION, Binds::HashAndTimes),
                (crate::repo::webhook::WEBHOOK_TROUBLE, Binds::Uuid),
            ] {
                let explain = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")));
                let explain = match binds {
                    Binds::Text => explain.bind("acme"),
                    Binds::Hash => explain.bind(vec![0u8; 32]),
                    Binds::TimeAndLimit => explain.bind(OffsetDateTime::UNIX_EPOCH).bind(50_i64),
                    Binds::HashAndTime => {
                        explain.bind(vec![0u8; 32]).bind(OffsetDateTime::UNIX_EPOCH)
                    }
                    Binds::HashAndTimes => explain
                        .bind(vec![0u8; 32])
                        .bind(OffsetDateTime::UNIX_EPOCH)
                        .bind(OffsetDateTime::UNIX_EPOCH),
                    Binds::Uuid => explain.bind(uuid::Uuid::nil()),
                };
                let plan: Vec<String> = explain
                    .fetch_all(&mut *conn)
                    .await
                    .expect("explain")
                    .iter()
                    .map(|row| row.get::<String, _>(0))
                    .collect();
                assert!(
                    !plan.iter().any(|line| line.contains("Seq Scan")),
                    "{sql}\n{plan:#?}"
                );
                assert!(
                    plan.iter().any(|line| line.contains("Index")),
                    "{sql}\n{plan:#?}"
                );
            }
        }
    }
}

//! The embedded backend: one SQLite file in WAL mode.
//!
//! Storage conventions: ids are 16-byte UUID blobs; timestamps are INTEGER
//! microseconds since the Unix epoch (UTC), because SQLite has no timestamp type and
//! text timestamps of varying precision do not order correctly in SQL; JSON is text.
//!
//! What this backend supplies to the one store logic ([`crate::db::Db`]): binding,
//! running statements, `BEGIN IMMEDIATE`, migrations under the write lock, the
//! sign-in group commit as one message per write, and its few statements of its own.

use std::str::FromStr;

use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments as _, Pool, SqlStr, Sqlite};

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

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Every pending migration in one IMMEDIATE transaction on `conn`, committed only
/// if no foreign key dangles afterwards.
async fn apply_migrations(conn: &mut SqliteConnection) -> Result<()> {
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    let before = applied_migrations(&mut tx).await?;
    // `run_direct` is what `run` calls after acquiring a connection; calling it
    // directly sidesteps a rustc limitation (the "Acquire is not general enough"
    // error) for a transaction's connection inside a Send future.
    MIGRATOR.run_direct(None, &mut *tx, false).await?;
    if applied_migrations(&mut tx).await? == before {
        // Nothing ran: no need to scan every table while holding the write lock.
        tx.commit().await?;
        return Ok(());
    }
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *tx)
        .await?;
    if let Some(first) = dangling.first() {
        let table: String = sqlx::Row::try_get(first, 0).unwrap_or_default();
        return Err(StoreError::Corrupt(format!(
            "after the migrations, {} row(s) refer to rows that do not exist (first in {table})",
            dangling.len()
        )));
    }
    tx.commit().await?;
    Ok(())
}

/// How many migrations the database has applied (0 before the first start).
async fn applied_migrations(conn: &mut SqliteConnection) -> Result<i64> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if table.is_none() {
        return Ok(0);
    }
    Ok(sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await?)
}

/// The store on a SQLite file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Prepares a pool; connects lazily (the first query opens the file, creating it).
    pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url.expose_secret())
            .map_err(StoreError::Backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only a power
            // loss may drop the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true)
            // A page of 100 rows comes from the connection's thread without it
            // waiting for the task to take the first ones (sqlx's default is 50).
            .row_buffer_size(256);
        // No ping before each acquire (sqlx's default): the database is a file in
        // this process, so there is no far end to lose, and each ping was a round
        // trip to the connection's thread on every query (a sign-in made ten).
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(options.clone());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        let readers = Readers::new(pool, settings.max_connections, None);
        Ok(Self::new(readers, writer))
    }
}

impl Db for Sqlite {
    const BACKEND: Backend = Backend::Sqlite;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const UPDATES_TOGETHER: bool = false;
    const CLIENT_FOR_REDIRECT_URI: &'static str = "SELECT c.id FROM oidc_clients c WHERE EXISTS \
         (SELECT 1 FROM json_each(c.redirect_uris) u WHERE u.value = $1) ORDER BY c.id LIMIT 1";
    /// No row lock: the redemption's transaction began IMMEDIATE on the single
    /// writer, so every redemption runs alone and the read-check-write cannot
    /// interleave with another one.
    const CODE_TO_REDEEM: &'static str = "SELECT * FROM authorization_codes WHERE code_hash = $1";
    const TENANT_FOR_VERIFIED_DOMAIN: &'static str = domain::TENANT_FOR_VERIFIED_DOMAIN;
    const DOMAINS_TO_RECHECK: &'static str = domain::DOMAINS_TO_RECHECK;
    const DOMAIN_VERIFIED_ELSEWHERE: &'static str = domain::VERIFIED_ELSEWHERE;
    const DOMAIN_TO_CHECK: &'static str = domain::DOMAIN_TO_CHECK;
    const WEBHOOK_ANY_DUE_RECENTLY: &'static str = webhook::ANY_DUE_RECENTLY;
    const WEBHOOK_CLAIM_DUE_RECENTLY: &'static str = webhook::CLAIM_DUE_RECENTLY;
    const MAIL_CLAIM: &'static str = crate::repo::mail::CLAIM_ON_THE_WRITER;

    fn bind<'q, T: Param<'q>>(args: &mut SqliteArguments, value: T) -> Result<(), BoxDynError> {
        args.add(value)
    }

    fn bind_dynamic(args: &mut SqliteArguments, value: Bind) -> Result<(), BoxDynError> {
        match value {
            Bind::Text(v) => args.add(v),
            Bind::Int(v) => args.add(v),
            Bind::Float(v) => args.add(v),
            Bind::Bool(v) => args.add(v),
            Bind::Uuid(v) => args.add(v),
            Bind::Time(v) => args.add(crate::db::Ts(v)),
            // JSON paths are text on SQLite; arrays only arise for PostgreSQL.
            Bind::TextArray(v) => args.add(v.join(".")),
            Bind::Bytes(v) => args.add(v),
        }
    }

    async fn fetch_all(
        conn: &mut SqliteConnection,
        sql: SqlStr,
        args: SqliteArguments,
    ) -> Result<Vec<SqliteRow>> {
        Ok(sqlx::query_with(sql, args).fetch_all(conn).await?)
    }

    async fn fetch_optional(
        conn: &mut SqliteConnection,
        sql: SqlStr,
        args: SqliteArguments,
    ) -> Result<Option<SqliteRow>> {
        Ok(sqlx::query_with(sql, args).fetch_optional(conn).await?)
    }

    async fn execute(
        conn: &mut SqliteConnection,
        sql: SqlStr,
        args: SqliteArguments,
    ) -> Result<u64> {
        Ok(sqlx::query_with(sql, args)
            .execute(conn)
            .await?
            .rows_affected())
    }

    async fn append_events(conn: &mut SqliteConnection, feed: FeedWrite<'_>) -> Result<()> {
        directory::append_events(conn, feed).await
    }

    async fn migrate(writer: &Pool<Sqlite>) -> Result<()> {
        // SQLite has no advisory lock, so two processes starting on one file would
        // both apply migration 1. Running every migration inside one IMMEDIATE
        // transaction takes the database's write lock first: a second process waits
        // (busy timeout), then finds the migrations applied. (Each migration becomes
        // a savepoint inside it, so a failure still rolls back whole.)
        //
        // Foreign keys are off while migrations run, as SQLite prescribes for schema
        // changes (it cannot switch them inside a transaction, so it is done before):
        // a migration that rebuilds a table (a CHECK cannot be altered) must not have
        // its DROP TABLE cascade to the rows that reference it. Before committing,
        // `foreign_key_check` must find nothing dangling.
        let mut conn = writer.acquire().await?;
        // Never back into the pool: had the restore below failed, or this future been
        // dropped half-way, the connection would serve writes with foreign keys off.
        // Closed instead, the pool opens a fresh one (foreign keys on) when next asked.
        conn.close_on_drop();
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await?;
        let applied = apply_migrations(&mut conn).await;
        let restored = sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *conn)
            .await;
        applied?;
        restored?;
        Ok(())
    }

    async fn write_sign_ins(writer: &Pool<Sqlite>, batch: &[&SignInWrite]) -> Result<Vec<Written>> {
        sign_in_batch::write_together(writer, batch).await
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::Store;
    use crate::repo::{ACTIVE_ADMIN_KEY, ACTIVE_SCIM_TOKEN, TENANT_BY_SLUG, console, setup_link};
    use crate::scim_sql::{Dialect, IDP_FILTERS, Sql, idp_filter_page_query};
    use sqlx::Row as _;
    use sqlx::sqlite::SqliteArguments;

    /// A migrated store on a fresh file (the handle keeps the file alive).
    async fn migrated() -> (idbridge_testkit::TestDb, SqliteStore) {
        let db = idbridge_testkit::TestDb::sqlite().await;
        let url = DatabaseUrl::parse(db.url()).expect("url");
        let store = SqliteStore::connect(&url, &PoolSettings::default()).expect("connect");
        store.migrate().await.expect("migrate");
        (db, store)
    }

    /// `EXPLAIN QUERY PLAN` of `sql` with these arguments: one line per step.
    async fn plan(store: &SqliteStore, sql: &str, args: SqliteArguments) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        sqlx::query_with(sqlx::AssertSqlSafe(explain), args)
            .fetch_all(store.readers.pool())
            .await
            .expect("explain")
            .iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect()
    }

    /// The arguments of a built [`Sql`], bound as the store binds them.
    fn arguments(binds: Vec<Bind>) -> SqliteArguments {
        let mut args = SqliteArguments::default();
        for bind in binds {
            <Sqlite as Db>::bind_dynamic(&mut args, bind).expect("bind");
        }
        args
    }

    /// Each SCIM filter an IdP sends is answered by its own index, not by walking
    /// the tenant's rows: that is what keeps an `eq` lookup as cheap at 1 M users as
    /// at 1 k.
    #[tokio::test]
    async fn scim_filters_idps_send_use_their_index() {
        let (_db, store) = migrated().await;
        for (table, filter, index) in IDP_FILTERS {
            let Sql { text, binds, .. } = idp_filter_page_query(Dialect::Sqlite, *table, filter);
            let plan = plan(&store, &text, arguments(binds)).await;
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{filter}: expected {index}\n{plan:#?}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|step| step.starts_with("SCAN") || step.ends_with("(tenant_id=?)")),
                "{filter}: walks the tenant's rows\n{plan:#?}"
            );
        }
    }

    /// A walk's pages and a one-row lookup, as the list reads them (with each
    /// user's groups and the tenant's count), are plain queries: neither run as a
    /// co-routine nor sorted again, which their wrapped form was.
    #[tokio::test]
    async fn pages_in_index_order_and_one_row_lookups_are_neither_wrapped_nor_sorted() {
        use crate::scim_sql::{Projection, Table, page_in_order_query, page_of_one_query};
        let (_db, store) = migrated().await;
        let tenant = uuid::Uuid::now_v7();
        let projection = |total_of| Projection {
            table: Table::Users,
            columns: "r.*",
            member_of: true,
            total_of,
        };
        let lookup = idbridge_scim::query::list_request(
            idbridge_scim::schema::ResourceType::User,
            Some(r#"userName eq "ada@example.com""#),
            None,
            None,
            None,
            None,
        )
        .expect("request");
        let filter = lookup.filter.as_ref().expect("filter");
        let statements = [
            page_in_order_query(
                Dialect::Sqlite,
                &projection(Some(tenant)),
                tenant,
                None,
                100,
            ),
            page_in_order_query(
                Dialect::Sqlite,
                &projection(Some(tenant)),
                tenant,
                Some(uuid::Uuid::now_v7()),
                100,
            ),
            page_of_one_query(Dialect::Sqlite, &projection(None), tenant, filter).expect("sql"),
        ];
        for Sql { text, binds, .. } in statements {
            let plan = plan(&store, &text, arguments(binds)).await;
            assert!(
                !plan
                    .iter()
                    .any(|step| step.contains("CO-ROUTINE") || step.contains("TEMP B-TREE")),
                "{text}\n{plan:#?}"
            );
            assert!(
                plan.iter().any(|step| step.contains("directory_users_")),
                "{plan:#?}"
            );
        }
    }

    /// A lookup that checks the caller's token in its own statement finds the token
    /// by its digest and the user by its unique index: no scan of either, nothing
    /// sorted, and the page's row joined to the token's, not the other way round
    /// (an unknown token reads no user).
    #[tokio::test]
    async fn a_lookup_checking_its_token_reads_the_token_then_one_user() {
        use crate::repo::directory::stored_lookup_as_caller;
        let (_db, store) = migrated().await;
        for filter in [
            r#"userName eq "ada@example.com""#.to_owned(),
            format!("id eq \"{}\"", uuid::Uuid::now_v7()),
        ] {
            let lookup = idbridge_scim::query::list_request(
                idbridge_scim::schema::ResourceType::User,
                Some(&filter),
                None,
                None,
                None,
                None,
            )
            .expect("request");
            for member_of in [false, true] {
                let Sql { text, binds, .. } = stored_lookup_as_caller(
                    Dialect::Sqlite,
                    &[0u8; 32],
                    "acme",
                    &lookup,
                    member_of,
                )
                .expect("a one-row lookup");
                let plan = plan(&store, &text, arguments(binds)).await;
                let steps: Vec<&String> = plan
                    .iter()
                    .filter(|step| step.starts_with("SEARCH") || step.starts_with("SCAN"))
                    .collect();
                assert!(
                    steps.len() >= 3 && steps.iter().all(|step| step.starts_with("SEARCH")),
                    "{filter}: scans\n{plan:#?}"
                );
                assert!(
                    steps[0].contains("scim_tokens") && steps[0].contains("token_hash=?"),
                    "{filter}: the token is not read first\n{plan:#?}"
                );
                assert!(
                    steps[2].contains("directory_users")
                        && steps[2].contains(if filter.starts_with("id") {
                            "(tenant_id=? AND id=?)"
                        } else {
                            "directory_users_user_name_idx (tenant_id=? AND user_name_lower=?)"
                        }),
                    "{filter}: the user is not read by its key\n{plan:#?}"
                );
                assert!(
                    !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                    "{filter}: sorts\n{plan:#?}"
                );
            }
        }
    }

    /// Each filter of the sign-in and provisioning logs is served by its own index,
    /// which also gives the newest-first order: no scan of the tenant's log.
    #[tokio::test]
    async fn log_filters_use_their_index() {
        let (_db, store) = migrated().await;
        for (what, sql, index) in crate::log_filter::indexed_filters() {
            if sql.dialect != Dialect::Sqlite {
                continue;
            }
            let plan = plan(&store, &sql.text, arguments(sql.binds)).await;
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{what}: expected {index}\n{plan:#?}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|step| step.starts_with("SCAN") || step.contains("TEMP B-TREE")),
                "{what}: scans or sorts\n{plan:#?}"
            );
        }
    }

    /// The webhooks list's trouble count reads the partial index of failing and
    /// dead pairs, not every tenant's cursor.
    #[tokio::test]
    async fn webhook_trouble_reads_only_pairs_in_trouble() {
        let (_db, store) = migrated().await;
        let mut args = SqliteArguments::default();
        args.add(uuid::Uuid::nil()).expect("bind");
        let plan = plan(&store, crate::repo::webhook::WEBHOOK_TROUBLE, args).await;
        assert!(
            plan.iter()
                .any(|step| step.contains("webhook_cursors_trouble_idx")),
            "{plan:#?}"
        );
    }

    /// A recent webhook poll starts from the two index ranges (feed events by id,
    /// cursors by due time) and never walks the tenants or the cursors: that is
    /// what makes an idle poll cost microseconds at any number of tenants.
    #[tokio::test]
    async fn a_recent_webhook_poll_starts_from_its_indexes() {
        let (_db, store) = migrated().await;
        let mut args = SqliteArguments::default();
        args.add(0_i64).expect("bind");
        args.add(uuid::Uuid::nil()).expect("bind");
        args.add(0_i64).expect("bind");
        args.add(16_i64).expect("bind");
        args.add(uuid::Uuid::nil()).expect("bind");
        args.add(0_i64).expect("bind");
        let plan = plan(&store, webhook::ANY_DUE_RECENTLY, args).await;
        for index in [
            "sqlite_autoindex_directory_events_1 (id>?)",
            "webhook_cursors_next_attempt_idx",
        ] {
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "expected {index}\n{plan:#?}"
            );
        }
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN t")
                || step.starts_with("SCAN tenants")
                || step.starts_with("SCAN webhook_cursors")
                || step.starts_with("SCAN c")),
            "walks tenants or cursors\n{plan:#?}"
        );
    }

    /// Every hot-path lookup is answered by an index, never a table scan.
    #[tokio::test]
    async fn hot_path_lookups_use_an_index() {
        let (_db, store) = migrated().await;
        for sql in [
            TENANT_BY_SLUG,
            ACTIVE_SCIM_TOKEN,
            ACTIVE_ADMIN_KEY,
            domain::TENANT_FOR_VERIFIED_DOMAIN,
            domain::DOMAINS_TO_RECHECK,
            setup_link::USABLE_SETUP_LINK,
            console::ACTIVE_CONSOLE_SESSION,
            crate::repo::webhook::WEBHOOK_TROUBLE,
        ] {
            let mut args = SqliteArguments::default();
            args.add(vec![0u8; 32]).expect("bind");
            let plan = plan(&store, sql, args).await;
            assert!(!plan.is_empty());
            for step in &plan {
                assert!(
                    step.starts_with("SEARCH") && step.contains("USING"),
                    "{sql}\n{plan:?}"
                );
            }
        }
    }
}

//! Test support shared by the store's contract tests and the server's integration
//! tests: every test gets its own database, so tests run in parallel and never see
//! each other's rows.
//!
//! - SQLite: a new file in a temporary directory, removed when the test ends.
//! - PostgreSQL: a new database `idbt_<uuid>` created through
//!   `IDBRIDGE_TEST_DATABASE_URL`, dropped when the test ends (and any leftovers
//!   from killed runs are dropped by `scripts/test` before the suite starts).
//!
//! [`both_backends!`] writes each test twice, as `<name>::sqlite` and
//! `<name>::postgres`. The PostgreSQL variant fails loudly when
//! `IDBRIDGE_TEST_DATABASE_URL` is not set: `scripts/test` filters those tests out in
//! that case and says so, rather than letting them pass without running.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

pub mod oidc_idp;
pub mod oidc_op;
pub mod saml;
pub mod smtp;

pub const PG_URL_VAR: &str = "IDBRIDGE_TEST_DATABASE_URL";

/// A database that exists for one test.
pub struct TestDb {
    url: String,
    backend: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, database: String },
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("idbridge-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let url = format!("sqlite://{}", dir.path().join("idbridge.db").display());
        Self {
            url,
            backend: "sqlite",
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin_url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{PG_URL_VAR} is not set: this is a PostgreSQL test. Run scripts/test, which \
                 leaves PostgreSQL tests out when the variable is unset, or set it to a \
                 server's database URL, e.g. postgres://postgres@127.0.0.1:5432/test"
            )
        });
        let database = format!("idbt_{}", uuid::Uuid::now_v7().simple());
        let mut admin = connect_admin(&admin_url).await;
        // The name is generated above from hex digits only, so it is safe to inline.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {database}: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|e| panic!("{PG_URL_VAR} is not a URL: {e}"));
        url.set_path(&database);
        Self {
            url: url.to_string(),
            backend: "postgres",
            cleanup: Cleanup::Postgres {
                admin_url,
                database,
            },
        }
    }

    /// The database URL, as `--database-url` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }
}

async fn connect_admin(admin_url: &str) -> PgConnection {
    let options = PgConnectOptions::from_str(admin_url)
        .unwrap_or_else(|e| panic!("{PG_URL_VAR} is not a PostgreSQL URL: {e}"));
    PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {PG_URL_VAR}: {e}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres {
            admin_url,
            database,
        } = &self.cleanup
        {
            let (admin_url, database) = (admin_url.clone(), database.clone());
            // Drop runs inside the test's runtime, which cannot block on itself; a
            // short-lived thread with its own runtime does the dropping.
            let dropper = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        let mut admin = connect_admin(&admin_url).await;
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await;
                        let _ = admin.close().await;
                    });
                }
            });
            let _ = dropper.join();
        }
    }
}

/// Writes each test once per backend: `name::sqlite` and `name::postgres`.
///
/// ```ignore
/// both_backends! {
///     async fn tenants_round_trip(db: TestDb) {
///         let store = connect(db.url()).await;
///         ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! both_backends {
    ($(
        $(#[$meta:meta])*
        async fn $name:ident($db:ident : TestDb) $body:block
    )*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::TestDb::sqlite().await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $db = $crate::TestDb::postgres().await;
                $body
            }
        }
    )*};
}

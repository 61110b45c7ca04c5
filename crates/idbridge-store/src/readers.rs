//! Reader connections, kept by the store rather than by sqlx's pool.
//!
//! sqlx's pool tests every connection it takes back: a `PoolConnection`'s drop
//! spawns a task that pings the connection before it is idle again. On SQLite a
//! ping is a command to the connection's own thread and its answer, two thread
//! switches, as many as the statement the connection was taken for (an IdP's
//! `userName eq` lookup made eight switches where four do, pinned to one core);
//! on PostgreSQL it is a round trip to the server. It finds nothing a
//! statement's own error would not: a cancelled statement leaves nothing behind
//! (SQLite's thread stops and resets it before its next command; sqlx's
//! PostgreSQL connection drains what is left before its next statement). So the
//! store keeps readers itself, without that ping, and watches errors instead: one
//! that says a connection is lost (its thread stopped, its socket failed, the
//! server ended its session) marks every connection out at that moment to be
//! closed, not kept, when given back. A PostgreSQL connection that sat idle for a
//! while (the server may have restarted, a proxy may have cut it) is pinged before
//! it is lent again, as sqlx's pool did, and one older than the pool's maximum
//! lifetime is closed rather than kept (so a server's memory per session, or a
//! rotated credential, is renewed in time). Readers never hold a transaction
//! (writes take theirs from the writer's pool); one given back inside a
//! transaction is closed all the same.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, Connection, Pool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Result;
use crate::db::Db;

/// How many times a connection has been found lost, in this process.
static CRASHED: AtomicU64 = AtomicU64::new(0);

/// Called with every error the database gives (`From<sqlx::Error>`): one that
/// says a connection is lost marks the connections out now as not to be kept,
/// and is answered as the database being unavailable (503), not as a fault.
pub(crate) fn saw(error: &sqlx::Error) -> bool {
    let lost = match error {
        sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        // PostgreSQL's connection exceptions (08) and operator intervention (57P:
        // the session was terminated, the server is shutting down).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    };
    if lost {
        CRASHED.fetch_add(1, Ordering::Relaxed);
    }
    lost
}

/// Idle reader connections and the permits that bound how many exist.
pub(crate) struct Readers<D: Db> {
    /// Opens connections (its options: file or server) and gives the acquire
    /// timeout; nothing is taken from it.
    pool: Pool<D>,
    kept: Arc<Kept<D>>,
    acquire_timeout: Duration,
    /// A connection idle longer than this is pinged before it is lent.
    ping_when_idle_for: Option<Duration>,
}

struct Kept<D: Db> {
    idle: Mutex<Vec<Idle<D>>>,
    permits: Arc<Semaphore>,
    /// The pool's maximum lifetime: a connection opened longer ago is closed,
    /// not kept or lent.
    max_lifetime: Option<Duration>,
}

impl<D: Db> Kept<D> {
    fn too_old(&self, opened: Instant) -> bool {
        self.max_lifetime
            .is_some_and(|lifetime| opened.elapsed() >= lifetime)
    }
}

struct Idle<D: Db> {
    conn: D::Connection,
    opened: Instant,
    /// When it was given back.
    since: Instant,
}

impl<D: Db> Readers<D> {
    /// At most `max` readers, opened with `pool`'s options.
    pub(crate) fn new(pool: Pool<D>, max: u32, ping_when_idle_for: Option<Duration>) -> Self {
        let max = max.max(1) as usize;
        let acquire_timeout = pool.options().get_acquire_timeout();
        let max_lifetime = pool.options().get_max_lifetime();
        Self {
            pool,
            kept: Arc::new(Kept {
                idle: Mutex::new(Vec::with_capacity(max)),
                permits: Arc::new(Semaphore::new(max)),
                max_lifetime,
            }),
            acquire_timeout,
            ping_when_idle_for,
        }
    }

    /// The pool readers are opened from.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    /// A connection for reading: an idle one, or a new one while fewer than the
    /// maximum exist; the pool's acquire timeout bounds the wait.
    pub(crate) async fn acquire(&self) -> Result<ReadConn<D>> {
        let permit = tokio::time::timeout(
            self.acquire_timeout,
            self.kept.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let crashed_at = CRASHED.load(Ordering::Relaxed);
        let (conn, opened) = loop {
            let idle = self
                .kept
                .idle
                .lock()
                .map(|mut idle| idle.pop())
                .ok()
                .flatten();
            let Some(Idle {
                mut conn,
                opened,
                since,
            }) = idle
            else {
                let opened = Instant::now();
                break (self.pool.connect_options().connect().await?, opened);
            };
            if self.kept.too_old(opened) {
                continue; // closed (dropped)
            }
            let stale = self
                .ping_when_idle_for
                .is_some_and(|after| since.elapsed() > after);
            if !stale || conn.ping().await.is_ok() {
                break (conn, opened);
            }
            // Lost while idle: closed (dropped); the next idle one, or a new one.
        };
        Ok(ReadConn {
            conn: Some(conn),
            opened,
            home: self.kept.clone(),
            crashed_at,
            _permit: permit,
        })
    }

    /// Refuses further acquires and closes the idle connections (those out are
    /// closed when given back).
    pub(crate) async fn close(&self) {
        self.kept.permits.close();
        let idle = match self.kept.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        for Idle { conn, .. } in idle {
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }
}

/// A reader connection, given back when dropped.
pub(crate) struct ReadConn<D: Db> {
    conn: Option<D::Connection>,
    opened: Instant,
    home: Arc<Kept<D>>,
    /// [`CRASHED`] when it was lent.
    crashed_at: u64,
    /// Released after the connection is back among the idle ones.
    _permit: OwnedSemaphorePermit,
}

impl<D: Db> Drop for ReadConn<D> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // Not kept: one inside a transaction, any out when a connection was found
        // lost, any past its lifetime, and any given back after `close`. Dropping
        // one closes it (SQLite's thread ends and closes its handle; PostgreSQL's
        // socket is shut).
        let keep = !conn.is_in_transaction()
            && CRASHED.load(Ordering::Relaxed) == self.crashed_at
            && !self.home.too_old(self.opened)
            && !self.home.permits.is_closed();
        if keep && let Ok(mut idle) = self.home.idle.lock() {
            idle.push(Idle {
                conn,
                opened: self.opened,
                since: Instant::now(),
            });
        }
    }
}

impl<D: Db> Deref for ReadConn<D> {
    type Target = D::Connection;

    fn deref(&self) -> &D::Connection {
        self.conn.as_ref().expect("lent until dropped")
    }
}

impl<D: Db> DerefMut for ReadConn<D> {
    fn deref_mut(&mut self) -> &mut D::Connection {
        self.conn.as_mut().expect("lent until dropped")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::db::{Scalar, query};
    use crate::sqlite::SqliteStore;
    use crate::{DatabaseUrl, PoolSettings, StoreError};

    fn store(max_connections: u32) -> (SqliteStore, std::path::PathBuf) {
        let path =
            std::env::temp_dir().join(format!("idbridge-readers-{}.db", uuid::Uuid::now_v7()));
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("url");
        let settings = PoolSettings {
            max_connections,
            acquire_timeout: Duration::from_millis(200),
        };
        (SqliteStore::connect(&url, &settings).expect("store"), path)
    }

    fn idle(store: &SqliteStore) -> usize {
        store
            .readers
            .kept
            .idle
            .lock()
            .map(|idle| idle.len())
            .unwrap_or(usize::MAX)
    }

    async fn answer(conn: &mut ReadConn<sqlx::Sqlite>) -> i64 {
        let Scalar(n) = query::<sqlx::Sqlite>("SELECT 42")
            .fetch_one(&mut **conn)
            .await
            .expect("select");
        n
    }

    #[tokio::test]
    async fn a_reader_given_back_is_kept_and_lent_again() {
        let (store, path) = store(2);
        let mut first = store.read().await.expect("first");
        assert_eq!(answer(&mut first).await, 42);
        let second = store.read().await.expect("second");
        assert_eq!(idle(&store), 0);
        drop((first, second));
        assert_eq!(idle(&store), 2, "both kept, at once, with no round trip");
        let mut again = store.read().await.expect("again");
        assert_eq!(idle(&store), 1);
        assert_eq!(answer(&mut again).await, 42);
        drop(again);
        store.readers.close().await;
        assert_eq!(idle(&store), 0, "closed");
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn no_more_readers_than_allowed_and_a_bounded_wait() {
        let (store, path) = store(1);
        let held = store.read().await.expect("held");
        let waited = store.read().await.err().expect("timed out");
        assert!(
            matches!(waited, StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
            "{waited:?}"
        );
        drop(held);
        let mut lent = store.read().await.expect("free again");
        assert_eq!(answer(&mut lent).await, 42);
        drop(lent);
        store.readers.close().await;
        let closed = store.read().await.err().expect("closed");
        assert!(
            matches!(closed, StoreError::Unavailable(sqlx::Error::PoolClosed)),
            "{closed:?}"
        );
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_read_cancelled_midway_leaves_its_connection_answering() {
        // A statement of a hundred million rows, dropped after 20 ms (a client
        // gone): its connection, the only one, is kept and answers the next
        // statement rightly (the connection's thread stops the statement at the
        // next row it cannot hand over, and resets it).
        let (store, path) = store(1);
        let mut conn = store.read().await.expect("conn");
        let long = query::<sqlx::Sqlite>(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) \
             SELECT i FROM n",
        )
        .fetch_all::<Scalar<i64>>(&mut *conn);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), long)
                .await
                .is_err()
        );
        drop(conn);
        assert_eq!(idle(&store), 1);
        let mut again = store.read().await.expect("again");
        assert_eq!(answer(&mut again).await, 42);
        drop(again);
        store.readers.close().await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn connections_out_when_one_is_found_lost_are_closed_not_kept() {
        let (store, path) = store(2);
        let mut out = store.read().await.expect("out");
        assert_eq!(answer(&mut out).await, 42);
        // What a connection whose thread stopped gives, from any statement.
        let _ = StoreError::from(sqlx::Error::WorkerCrashed);
        drop(out);
        assert_eq!(idle(&store), 0, "closed, not kept");
        let mut after = store.read().await.expect("after");
        assert_eq!(answer(&mut after).await, 42);
        drop(after);
        assert_eq!(idle(&store), 1, "lent after the loss: kept");
        store.readers.close().await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_reader_past_the_pools_lifetime_is_closed_not_kept() {
        // A temporary table lives as long as the connection that made it.
        let (store, path) = store(1);
        let options = store.readers.pool().connect_options();
        let aging = |lifetime| {
            let pool = sqlx::pool::PoolOptions::<sqlx::Sqlite>::new()
                .max_lifetime(lifetime)
                .connect_lazy_with((*options).clone());
            Readers::new(pool, 1, None)
        };
        for (lifetime, same) in [(None, true), (Some(Duration::ZERO), false)] {
            let readers = aging(lifetime);
            let mut first = readers.acquire().await.expect("first");
            query::<sqlx::Sqlite>("CREATE TEMP TABLE mark (x INTEGER)")
                .execute(&mut *first)
                .await
                .expect("mark");
            drop(first);
            let mut next = readers.acquire().await.expect("next");
            let Scalar(marked) = query::<sqlx::Sqlite>(
                "SELECT count(*) FROM temp.sqlite_schema WHERE name = 'mark'",
            )
            .fetch_one::<Scalar<i64>>(&mut *next)
            .await
            .expect("look");
            assert_eq!(marked == 1, same, "lifetime {lifetime:?}");
            drop(next);
            readers.close().await;
        }
        store.readers.close().await;
        let _ = std::fs::remove_file(path);
    }

    /// A PostgreSQL store on a database of its own (kept alive by the `TestDb`).
    async fn pg_store(
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> (crate::postgres::PostgresStore, idbridge_testkit::TestDb) {
        let db = idbridge_testkit::TestDb::postgres().await;
        let url = DatabaseUrl::parse(db.url()).expect("url");
        let settings = PoolSettings {
            max_connections,
            acquire_timeout,
        };
        let store = crate::postgres::PostgresStore::connect(&url, &settings).expect("store");
        (store, db)
    }

    /// The server process behind a PostgreSQL connection.
    async fn backend_pid(conn: &mut ReadConn<sqlx::Postgres>) -> Result<i64> {
        let Scalar(pid) = query::<sqlx::Postgres>("SELECT CAST(pg_backend_pid() AS BIGINT)")
            .fetch_one::<Scalar<i64>>(&mut **conn)
            .await?;
        Ok(pid)
    }

    /// Ends the session of server process `pid`, as a restart or failover would.
    async fn terminate(store: &crate::postgres::PostgresStore, pid: i64) {
        let mut admin = store.readers.pool().acquire().await.expect("writer");
        let Scalar(ended) = query::<sqlx::Postgres>("SELECT pg_terminate_backend(CAST($1 AS INT))")
            .bind(pid)
            .fetch_one::<Scalar<bool>>(&mut *admin)
            .await
            .expect("terminate");
        assert!(ended);
        // Give the server a moment to end it.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    mod a_reader_whose_session_the_server_ended_is_closed_not_kept {
        use super::*;
        use crate::postgres::PostgresStore;

        /// The server ends a kept reader's session (`pg_terminate_backend`, as a
        /// restart or failover would): the next read on it fails, the connection
        /// is closed rather than kept, and the read after that answers from a new
        /// session.
        #[tokio::test]
        async fn postgres() {
            let (store, _db) = pg_store(2, Duration::from_secs(5)).await;
            let session = async |store: &PostgresStore| backend_pid(&mut store.read().await?).await;
            let first = session(&store).await.expect("first");
            assert_eq!(
                session(&store).await.expect("kept"),
                first,
                "the same session, kept"
            );
            terminate(&store, first).await;
            let lost = session(&store)
                .await
                .expect_err("the ended session fails once");
            assert!(lost.is_unavailable(), "a 503, not a fault: {lost:?}");
            let next = session(&store).await.expect("a new session");
            assert_ne!(next, first);
            assert_eq!(session(&store).await.expect("kept"), next);
        }
    }

    mod readers_and_writers_split_the_connection_budget {
        use super::*;

        /// Of four connections, two are readers: a third read waits out the
        /// timeout while writers still get theirs.
        #[tokio::test]
        async fn postgres() {
            let (store, _db) = pg_store(4, Duration::from_millis(300)).await;
            let held = (
                store.read().await.expect("one"),
                store.read().await.expect("two"),
            );
            let waited = store.read().await.err().expect("timed out");
            assert!(
                matches!(waited, StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
                "{waited:?}"
            );
            let mut writer = store.write().await.expect("a writer");
            query::<sqlx::Postgres>("SELECT 1")
                .execute(&mut *writer)
                .await
                .expect("write side");
            let _second = store.write().await.expect("another writer");
            drop(held);
            store.read().await.expect("a reader again");
        }
    }

    mod a_reader_idle_past_the_threshold_is_pinged_before_it_is_lent {
        use super::*;

        /// Kept past `ping_when_idle_for` (here: any time at all), a reader whose
        /// session the server ended is found lost by the ping and replaced: the
        /// read answers, from a new session, with no failure first.
        #[tokio::test]
        async fn postgres() {
            let (store, _db) = pg_store(2, Duration::from_secs(5)).await;
            let readers = Readers::new(store.readers.pool().clone(), 1, Some(Duration::ZERO));
            let first = backend_pid(&mut readers.acquire().await.expect("first"))
                .await
                .expect("pid");
            assert_eq!(readers.kept.idle.lock().map(|i| i.len()).unwrap_or(0), 1);
            terminate(&store, first).await;
            let next = backend_pid(&mut readers.acquire().await.expect("next"))
                .await
                .expect("answered at once");
            assert_ne!(next, first);
        }
    }
}

//! SQLite's reader connections, kept by the store rather than by sqlx's pool.
//!
//! sqlx's pool tests every connection it takes back: a `PoolConnection`'s drop
//! spawns a task that pings the connection before it is idle again. On SQLite a
//! ping is a command to the connection's own thread and its answer, two thread
//! switches, as many as the statement the connection was taken for (an IdP's
//! `userName eq` lookup made eight switches where four do, pinned to one core).
//! On SQLite the ping finds nothing a statement's own error would not: a
//! cancelled statement leaves nothing behind (the connection's thread resets it
//! before its next command) and there is no server to lose. So the store keeps
//! SQLite's readers itself, without the ping, and watches errors instead: one that
//! says a connection is lost (its thread stopped) marks every connection out at
//! that moment to be closed, not kept, when given back. Readers never hold a
//! transaction (writes take theirs from the writer); one given back inside a
//! transaction is closed all the same.
//!
//! PostgreSQL's readers stay in sqlx's pool ([`Db::KEEPS_READERS`]): there
//! readers and writers share one pool, so `--database-max-connections` bounds
//! them together, and its ping finds connections a restarted server dropped.
//! (Without the ping, `filter_eq` on PostgreSQL measured +37 %; keeping readers
//! there too needs the connection budget split between readers and writers.)

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Pool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Result;
use crate::db::Db;

/// How many times a connection has been found lost, in this process.
static CRASHED: AtomicU64 = AtomicU64::new(0);

/// Called with every error the database gives (`From<sqlx::Error>`): one that
/// says a connection is lost marks the connections out now as not to be kept
/// (on SQLite only `WorkerCrashed` can; the rest are there should PostgreSQL's
/// readers be kept too).
pub(crate) fn saw(error: &sqlx::Error) {
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
}

/// Idle reader connections and the permits that bound how many exist.
pub(crate) struct Readers<D: Db> {
    /// Opens connections (its options: file or server, timeouts).
    pool: Pool<D>,
    kept: Arc<Kept<D>>,
    acquire_timeout: Duration,
}

struct Kept<D: Db> {
    idle: Mutex<Vec<D::Connection>>,
    permits: Arc<Semaphore>,
}

impl<D: Db> Readers<D> {
    pub(crate) fn new(pool: Pool<D>) -> Self {
        let options = pool.options();
        let (max, acquire_timeout) = (
            options.get_max_connections() as usize,
            options.get_acquire_timeout(),
        );
        Self {
            pool,
            kept: Arc::new(Kept {
                idle: Mutex::new(Vec::with_capacity(max)),
                permits: Arc::new(Semaphore::new(max.max(1))),
            }),
            acquire_timeout,
        }
    }

    /// The pool readers are opened from.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    /// A connection for reading: an idle one, or a new one while fewer than the
    /// pool's maximum exist; the pool's acquire timeout bounds the wait.
    pub(crate) async fn acquire(&self) -> Result<ReadConn<D>> {
        if !D::KEEPS_READERS {
            return Ok(ReadConn::Pooled(self.pool.acquire().await?));
        }
        let permit = tokio::time::timeout(
            self.acquire_timeout,
            self.kept.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let crashed_at = CRASHED.load(Ordering::Relaxed);
        let idle = self
            .kept
            .idle
            .lock()
            .map(|mut idle| idle.pop())
            .ok()
            .flatten();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                use sqlx::ConnectOptions;
                self.pool.connect_options().connect().await?
            }
        };
        Ok(ReadConn::Kept(Lent {
            conn: Some(conn),
            home: self.kept.clone(),
            crashed_at,
            _permit: permit,
        }))
    }

    /// Refuses further acquires and closes the idle connections (those out are
    /// closed when given back).
    pub(crate) async fn close(&self) {
        self.kept.permits.close();
        let idle = match self.kept.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        for conn in idle {
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }
}

/// A reader connection, given back when dropped.
pub(crate) enum ReadConn<D: Db> {
    /// From sqlx's pool (PostgreSQL).
    Pooled(PoolConnection<D>),
    /// Kept by [`Readers`] (SQLite).
    Kept(Lent<D>),
}

pub(crate) struct Lent<D: Db> {
    conn: Option<D::Connection>,
    home: Arc<Kept<D>>,
    /// [`CRASHED`] when it was lent.
    crashed_at: u64,
    /// Released after the connection is back among the idle ones.
    _permit: OwnedSemaphorePermit,
}

impl<D: Db> Drop for Lent<D> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // Not kept: one inside a transaction, any out when a connection was found
        // lost, and any given back after `close`. Dropping one closes it (its
        // thread ends and closes SQLite's handle).
        let keep = !conn.is_in_transaction()
            && CRASHED.load(Ordering::Relaxed) == self.crashed_at
            && !self.home.permits.is_closed();
        if keep && let Ok(mut idle) = self.home.idle.lock() {
            idle.push(conn);
        }
    }
}

impl<D: Db> Deref for ReadConn<D> {
    type Target = D::Connection;

    fn deref(&self) -> &D::Connection {
        match self {
            ReadConn::Pooled(conn) => conn,
            ReadConn::Kept(lent) => lent.conn.as_ref().expect("lent until dropped"),
        }
    }
}

impl<D: Db> DerefMut for ReadConn<D> {
    fn deref_mut(&mut self) -> &mut D::Connection {
        match self {
            ReadConn::Pooled(conn) => conn,
            ReadConn::Kept(lent) => lent.conn.as_mut().expect("lent until dropped"),
        }
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
}

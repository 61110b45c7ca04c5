/// What can go wrong in storage, in terms the layers above can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken (a slug taken, a hash already stored).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The row changed since the caller read it (optimistic concurrency: re-read and
    /// retry, or report a failed precondition).
    #[error("the resource was changed by another request")]
    VersionMismatch,
    /// A reference to a row that does not exist (a group member that is no user or
    /// group of the tenant).
    #[error("no user or group {0} in this tenant")]
    InvalidReference(String),
    /// A query the store cannot run as asked (a malformed date, an unsupported
    /// comparison).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The database URL names no backend idbridge knows.
    #[error("unsupported database URL scheme {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    /// A stored value could not be turned back into a domain value: a bug or a
    /// hand-edited database.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database cannot be reached right now (pool exhausted, connection lost).
    /// Worth retrying; a readiness probe should fail.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The task that group-commits writes (sign-in records, users and groups) has
    /// stopped (the store is shutting down). Worth retrying on another process.
    #[error("the store's writer has stopped")]
    WriterGone,
    /// A group-committed write panicked (a bug): it was rolled back and the writer
    /// goes on; the panic itself is in the log.
    #[error("the write failed inside the store")]
    WritePanicked,
    /// The database failed a whole group-committed batch of writes for its own
    /// reasons (see `group_commit`): every write in the batch gets this, with the
    /// one cause.
    #[error("database unavailable: {0}")]
    BatchUnavailable(#[source] std::sync::Arc<StoreError>),
    /// The database said no for a reason that is not the caller's.
    #[error("database error: {0}")]
    Backend(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        let lost = crate::readers::saw(&err);
        match &err {
            // A connection's thread stopped, its socket failed, or the server ended
            // its session (PostgreSQL 08xxx, 57Pxx: restart, failover, termination).
            _ if lost => StoreError::Unavailable(err),
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("a unique value is already taken")
            }
            // The row this one refers to (a tenant, say) is gone.
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => StoreError::Unavailable(err),
            _ => StoreError::Backend(err),
        }
    }
}

impl StoreError {
    /// Whether the database (not the request) is at fault: worth retrying, and a
    /// 503 rather than a 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::WriterGone | StoreError::BatchUnavailable(_)
        )
    }

    /// Whether the database gave up on the transaction to resolve a conflict with
    /// another one (PostgreSQL's deadlock or serialization failure): the same
    /// transaction run again will likely succeed.
    pub fn is_transient_conflict(&self) -> bool {
        match self {
            StoreError::Backend(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40P01" | "40001"))
            }
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

//! The seam between the one store logic and the two databases.
//!
//! Every repository is written once, over [`Db`], in the manner of rustls'
//! `CryptoProvider`: the logic asks for statements to be run and rows to be read,
//! and each backend (`sqlite`, `postgres`) supplies only what really differs — how
//! a value is bound, how a statement runs, how a write transaction begins, how
//! migrations run, and the handful of statements whose SQL cannot be shared
//! (PostgreSQL's `unnest`, `FOR UPDATE` and `LATERAL`; SQLite's `json_each`, its
//! `CROSS JOIN` loop order, and its partial indexes' terms repeated word for word).
//!
//! SQL is written once too: `$1`-style placeholders (SQLite reads `$N` as the N-th
//! value, as PostgreSQL does), `CAST(… AS BIGINT)` rather than `::`, `->>` for JSON
//! fields, `ON CONFLICT` upserts. Values cross the seam as [`Param`]s and come back
//! through [`Row`], so the two storage conventions (PostgreSQL's native `uuid`,
//! `timestamptz`, `jsonb`; SQLite's blobs, integer microseconds and text) meet in
//! the value types: [`Ts`] for time, `sqlx::types::Json` for documents.

use std::future::Future;

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgRow, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteRow, SqliteTypeInfo, SqliteValueRef};
use sqlx::{AssertSqlSafe, Database, Pool, Postgres, SqlSafeStr, SqlStr, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::scim_sql::{Bind, Dialect, Sql};
use crate::sign_in_batch::{SignInWrite, Written};
use crate::{Backend, NewEvent, Result, StoreError};

/// What a backend supplies. Implemented by `sqlx::Sqlite` and `sqlx::Postgres`.
pub(crate) trait Db: Database<Row: Row> + Sync {
    const BACKEND: Backend;
    /// How `scim_sql` and `log_filter` spell this backend's SQL.
    const DIALECT: Dialect = match Self::BACKEND {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
    };
    /// The statement that opens a transaction that will write: SQLite takes the
    /// file's write lock at once (`IMMEDIATE`), so a transaction never fails to
    /// upgrade halfway.
    const BEGIN_WRITE: &'static str;
    /// Whether a batch's run of user updates goes in one statement
    /// (`repo::directory::writes`): a round trip saved per user on PostgreSQL; on
    /// SQLite the joined `UPDATE … FROM` costs more than the hand-offs it saves
    /// (PATCH −10 % pinned), so each user is its own statement there.
    const UPDATES_TOGETHER: bool;
    /// The client that registered exactly `$1` as a redirect URI (JSON arrays are
    /// searched differently).
    const CLIENT_FOR_REDIRECT_URI: &'static str;
    /// The authorization code with digest `$1`, read inside the exchange's write
    /// transaction so that a code is exchanged at most once across processes
    /// (PostgreSQL locks the row; SQLite's transaction already holds the file's
    /// write lock).
    const CODE_TO_REDEEM: &'static str;
    /// The tenant that holds domain `$1` verified. This and the next two test
    /// "verified" word for word as the backend's partial indexes do (see
    /// `repo::domain::statements`).
    const TENANT_FOR_VERIFIED_DOMAIN: &'static str;
    /// Verified domains last checked before `$1`, oldest check first, `$2` of them.
    const DOMAINS_TO_RECHECK: &'static str;
    /// How many tenants other than `$2` hold domain `$1` verified.
    const DOMAIN_VERIFIED_ELSEWHERE: &'static str;
    /// Tenant `$1`'s claim on domain `$2`, read inside a DNS check's write
    /// transaction so that two checks of one claim apply in turn (PostgreSQL locks
    /// the row; SQLite's transaction already holds the file's write lock).
    const DOMAIN_TO_CHECK: &'static str;
    /// Whether any webhook pair that changed lately is due
    /// ([`crate::ClaimScope::Recent`]). The planner must be made to start from two
    /// index ranges, and each backend is made to in its own way (see
    /// `repo::webhook` for the values it takes).
    const WEBHOOK_ANY_DUE_RECENTLY: &'static str;
    /// The claim of the pairs [`Db::WEBHOOK_ANY_DUE_RECENTLY`] finds due.
    const WEBHOOK_CLAIM_DUE_RECENTLY: &'static str;
    /// The mail outbox's claim (`repo::mail`): due rows leased by one `UPDATE …
    /// RETURNING`. PostgreSQL skips rows another claimer holds locked (`FOR UPDATE
    /// SKIP LOCKED`); SQLite's single writer runs one claim at a time.
    const MAIL_CLAIM: &'static str;

    fn bind<'q, T: Param<'q>>(args: &mut Self::Arguments, value: T) -> Result<(), BoxDynError>;
    /// A value of a compiled SCIM query (see `scim_sql`).
    fn bind_dynamic(args: &mut Self::Arguments, value: Bind) -> Result<(), BoxDynError>;

    fn fetch_all(
        conn: &mut Self::Connection,
        sql: SqlStr,
        args: Self::Arguments,
    ) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;
    fn fetch_optional(
        conn: &mut Self::Connection,
        sql: SqlStr,
        args: Self::Arguments,
    ) -> impl Future<Output = Result<Option<Self::Row>>> + Send;
    /// Runs the statement; the number of rows it changed.
    fn execute(
        conn: &mut Self::Connection,
        sql: SqlStr,
        args: Self::Arguments,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Appends a batch of directory writes' events to their tenant's feed, numbered
    /// on from the tenant's counter, and moves the tenant's user and group counts;
    /// [`StoreError::NotFound`] if the tenant is gone. The end of every batch of
    /// directory writes, once per tenant (see `repo::directory::finish_writes`):
    /// PostgreSQL does it in one statement, SQLite in two.
    fn append_events(
        conn: &mut Self::Connection,
        feed: FeedWrite<'_>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies the embedded migrations that are not applied yet.
    fn migrate(writer: &Pool<Self>) -> impl Future<Output = Result<()>> + Send;

    /// A sign-in group commit: every write of `batch` in one transaction, in order,
    /// with one answer per write (see `sign_in_batch`).
    fn write_sign_ins(
        writer: &Pool<Self>,
        batch: &[&SignInWrite],
    ) -> impl Future<Output = Result<Vec<Written>>> + Send;
}

/// What a batch of directory writes appends to one tenant's feed (see
/// [`Db::append_events`]).
pub(crate) struct FeedWrite<'a> {
    pub tenant_id: Uuid,
    /// In feed order (the writes' order; in each, the caller's events, then those
    /// the store raised), each with when it occurred: its write's time.
    pub events: Vec<(&'a NewEvent, OffsetDateTime)>,
    /// Added to the tenant's maintained user and group counts.
    pub user_delta: i64,
    pub group_delta: i64,
}

/// A value either backend can bind (for as long as `'q`: an `Option` of a borrowed
/// value encodes only while what it borrows lives).
pub(crate) trait Param<'q>:
    sqlx::Encode<'q, Sqlite>
    + sqlx::Type<Sqlite>
    + sqlx::Encode<'q, Postgres>
    + sqlx::Type<Postgres>
    + Send
{
}

impl<'q, T> Param<'q> for T where
    T: sqlx::Encode<'q, Sqlite>
        + sqlx::Type<Sqlite>
        + sqlx::Encode<'q, Postgres>
        + sqlx::Type<Postgres>
        + Send
{
}

/// A column value either backend can decode.
pub(crate) trait Column:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
{
}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
{
}

/// A result row, read the same way on both backends.
pub(crate) trait Row {
    fn get<T: Column>(&self, column: &str) -> Result<T>;
    /// The first column (for single-value queries).
    fn first<T: Column>(&self) -> Result<T>;

    fn time(&self, column: &str) -> Result<OffsetDateTime> {
        Ok(self.get::<Ts>(column)?.0)
    }

    fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>> {
        Ok(self.get::<Option<Ts>>(column)?.map(|t| t.0))
    }

    /// A JSON column's text, compact (no whitespace between tokens, as serde
    /// writes it), neither parsed nor checked here: SQLite's text as stored,
    /// PostgreSQL's `json` as stored, or `jsonb` with its spacing taken out.
    fn json_text(&self, column: &str) -> Result<String>;

    /// A JSON column: `json` or `jsonb` on PostgreSQL, text on SQLite.
    fn json<T: serde::de::DeserializeOwned + 'static>(&self, column: &str) -> Result<T> {
        Ok(self.get::<sqlx::types::Json<T>>(column)?.0)
    }

    /// A text column that holds one of a vocabulary's spellings.
    fn parsed<T>(&self, column: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
        let raw: String = self.get(column)?;
        parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("{column} {raw:?}")))
    }
}

impl Row for SqliteRow {
    fn get<T: Column>(&self, column: &str) -> Result<T> {
        Ok(sqlx::Row::try_get(self, column)?)
    }

    fn json_text(&self, column: &str) -> Result<String> {
        // What idbridge (serde) or SQLite's JSON functions wrote: compact.
        self.get(column)
    }

    fn first<T: Column>(&self) -> Result<T> {
        Ok(sqlx::Row::try_get(self, 0)?)
    }
}

impl Row for PgRow {
    fn get<T: Column>(&self, column: &str) -> Result<T> {
        Ok(sqlx::Row::try_get(self, column)?)
    }

    fn json_text(&self, column: &str) -> Result<String> {
        // A `json` column holds the text written: idbridge's, compact, except a
        // document stored before migration 0034, which holds `jsonb`'s text, a space
        // after each `:` and `,`. The text is taken as sent and compacted (a scan
        // that copies nothing when there is nothing to take out), not parsed: the
        // reader parses it once.
        let PgJsonText(text) = sqlx::Row::try_get(self, column)?;
        Ok(idbridge_scim::stored::compact(text).into_owned())
    }

    fn first<T: Column>(&self) -> Result<T> {
        Ok(sqlx::Row::try_get(self, 0)?)
    }
}

/// A `json` or `jsonb` value's text as PostgreSQL sent it, neither parsed nor
/// checked (what `sqlx::types::Json` does before its parse: `jsonb`'s binary form
/// is a version byte, 1, then the text).
struct PgJsonText<'r>(&'r str);

impl sqlx::Type<Postgres> for PgJsonText<'_> {
    fn type_info() -> PgTypeInfo {
        <sqlx::types::Json<()> as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <sqlx::types::Json<()> as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for PgJsonText<'r> {
    fn decode(value: PgValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        let jsonb = value.format() == sqlx::postgres::PgValueFormat::Binary
            && *sqlx::ValueRef::type_info(&value) == <Self as sqlx::Type<Postgres>>::type_info();
        let bytes = value.as_bytes()?;
        let text = match (jsonb, bytes.split_first()) {
            (false, _) => bytes,
            (true, Some((1, text))) => text,
            (true, _) => return Err("jsonb in a format other than version 1".into()),
        };
        Ok(Self(std::str::from_utf8(text)?))
    }
}

/// A record read from a row: each mapping is written once, for both backends.
pub(crate) trait FromRow: Sized + Send {
    fn from_row(row: &impl Row) -> Result<Self>;
}

/// A single-column result.
pub(crate) struct Scalar<T>(pub T);

impl<T: Column + Send> FromRow for Scalar<T> {
    fn from_row(row: &impl Row) -> Result<Self> {
        row.first().map(Scalar)
    }
}

/// A statement and its values, for one backend; run on a connection the caller
/// holds (a pooled reader, the writer, or a transaction).
pub(crate) struct Query<D: Db> {
    sql: SqlStr,
    args: D::Arguments,
    /// The first value that could not be encoded: reported when the statement runs.
    unbound: Option<BoxDynError>,
}

/// A statement from the fixed text of this crate.
pub(crate) fn query<D: Db>(sql: &'static str) -> Query<D> {
    Query::with_sql(sql.into_sql_str())
}

/// A statement `scim_sql` or `log_filter` assembled at run time from fixed fragments
/// only, with every request value bound.
pub(crate) fn query_assembled<D: Db>(sql: Sql) -> Query<D> {
    let Sql { text, binds, .. } = sql;
    binds.into_iter().fold(
        Query::with_sql(AssertSqlSafe(text).into_sql_str()),
        Query::bind_dynamic,
    )
}

/// A statement this crate assembled at run time from its own fixed text and
/// [`values_rows`] (a multi-row `VALUES` list), every value bound.
pub(crate) fn query_built<D: Db>(text: String) -> Query<D> {
    Query::with_sql(AssertSqlSafe(text).into_sql_str())
}

/// Appends `rows` rows of `columns` numbered parameters each, `($1, $2), ($3, $4)`,
/// numbered on from `$first`.
pub(crate) fn values_rows(text: &mut String, first: usize, rows: usize, columns: usize) {
    use std::fmt::Write as _;
    for row in 0..rows {
        text.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let sep = if column == 0 { "" } else { ", " };
            let _ = write!(text, "{sep}${}", first + row * columns + column);
        }
        text.push(')');
    }
}

impl<D: Db> Query<D> {
    fn with_sql(sql: SqlStr) -> Self {
        Self {
            sql,
            args: D::Arguments::default(),
            unbound: None,
        }
    }

    pub fn bind<'q>(mut self, value: impl Param<'q>) -> Self {
        if self.unbound.is_none()
            && let Err(e) = D::bind(&mut self.args, value)
        {
            self.unbound = Some(e);
        }
        self
    }

    pub fn bind_dynamic(mut self, value: Bind) -> Self {
        if self.unbound.is_none()
            && let Err(e) = D::bind_dynamic(&mut self.args, value)
        {
            self.unbound = Some(e);
        }
        self
    }

    fn ready(self) -> Result<(SqlStr, D::Arguments)> {
        match self.unbound {
            None => Ok((self.sql, self.args)),
            Some(e) => Err(StoreError::Backend(sqlx::Error::Encode(e))),
        }
    }

    pub async fn fetch_all<T: FromRow>(self, conn: &mut D::Connection) -> Result<Vec<T>> {
        let (sql, args) = self.ready()?;
        let rows = D::fetch_all(conn, sql, args).await?;
        rows.iter().map(T::from_row).collect()
    }

    pub async fn fetch_optional<T: FromRow>(self, conn: &mut D::Connection) -> Result<Option<T>> {
        let (sql, args) = self.ready()?;
        D::fetch_optional(conn, sql, args)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }

    /// The one row the statement must return ([`StoreError::NotFound`] if none).
    pub async fn fetch_one<T: FromRow>(self, conn: &mut D::Connection) -> Result<T> {
        self.fetch_optional(conn).await?.ok_or(StoreError::NotFound)
    }

    /// The number of rows changed.
    pub async fn execute(self, conn: &mut D::Connection) -> Result<u64> {
        let (sql, args) = self.ready()?;
        D::execute(conn, sql, args).await
    }

    /// Runs a statement that must change a row: [`StoreError::NotFound`] if none.
    pub async fn execute_one(self, conn: &mut D::Connection) -> Result<()> {
        match self.execute(conn).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

/// A point in time as each backend stores it: `timestamptz` on PostgreSQL, INTEGER
/// microseconds since the Unix epoch (UTC) on SQLite, whose text timestamps of
/// varying precision would not order correctly in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ts(pub OffsetDateTime);

/// `t` as SQLite stores it.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    // i64 microseconds cover ±292,000 years; OffsetDateTime's range is smaller.
    (t.unix_timestamp_nanos() / 1_000) as i64
}

fn from_micros(us: i64) -> Result<OffsetDateTime, BoxDynError> {
    Ok(OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(us) * 1_000,
    )?)
}

impl sqlx::Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <i64 as sqlx::Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as sqlx::Type<Sqlite>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut SqliteArgumentsBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        <i64 as sqlx::Encode<Sqlite>>::encode(micros(self.0), buf)
    }
}

impl sqlx::Decode<'_, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'_>) -> Result<Self, BoxDynError> {
        from_micros(<i64 as sqlx::Decode<Sqlite>>::decode(value)?).map(Ts)
    }
}

impl sqlx::Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Postgres> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        <OffsetDateTime as sqlx::Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl sqlx::Decode<'_, Postgres> for Ts {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        <OffsetDateTime as sqlx::Decode<Postgres>>::decode(value).map(Ts)
    }
}

/// A SCIM document bound for its column: text on SQLite, `json` on PostgreSQL
/// (migration 0034). `sqlx::types::Json` binds `jsonb`, which PostgreSQL would parse
/// into its binary form and, for the `json` column, turn back into text; bound as
/// `json`, the text idbridge wrote is checked and stored as it is.
///
/// A document holding U+0000 is not bound (the statement fails, nothing is
/// written): PostgreSQL's JSON functions cannot read one back as text, so every
/// filter that reads into the tenant's documents would fail on it. SCIM bodies
/// holding one are refused before (`idbridge_scim::resource::refuse_nul`); this
/// keeps any other writer (a sign-in's claims) from storing one, on both backends.
pub(crate) struct JsonDocument<'a>(pub &'a serde_json::Map<String, serde_json::Value>);

impl JsonDocument<'_> {
    fn checked(&self) -> Result<&serde_json::Map<String, serde_json::Value>, BoxDynError> {
        if idbridge_core::json::member_holding_nul(self.0).is_some() {
            return Err("a document holds U+0000".into());
        }
        Ok(self.0)
    }
}

impl sqlx::Type<Sqlite> for JsonDocument<'_> {
    fn type_info() -> SqliteTypeInfo {
        <String as sqlx::Type<Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, Sqlite> for JsonDocument<'_> {
    fn encode_by_ref(
        &self,
        buf: &mut SqliteArgumentsBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        <String as sqlx::Encode<Sqlite>>::encode(serde_json::to_string(self.checked()?)?, buf)
    }
}

/// PostgreSQL's `json` type: a built-in type, whose oid is the same everywhere.
const PG_JSON: PgTypeInfo = PgTypeInfo::with_oid(sqlx::postgres::types::Oid(114));

impl sqlx::Type<Postgres> for JsonDocument<'_> {
    fn type_info() -> PgTypeInfo {
        PG_JSON
    }
}

impl sqlx::Encode<'_, Postgres> for JsonDocument<'_> {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        // `json`'s binary form is its text.
        serde_json::to_writer(&mut **buf, self.checked()?)?;
        Ok(sqlx::encode::IsNull::No)
    }
}

//! The directory, written once: users, groups, memberships, the tenant's event feed
//! and the provisioning log.
//!
//! Every write ends in [`finish_writes`], once per batch: its log line, then its
//! events appended to the tenant's feed. Users and groups are written through a group commit
//! (`writes`): several callers' writes to a transaction. Only that append differs between the
//! backends ([`Db::append_events`]); the SCIM list queries come from `scim_sql` and
//! the log filters from `log_filter`, in the backend's [`Db::DIALECT`].

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use idbridge_core::{EventKind, EventResource};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) mod rank_blocks;
mod writes;

pub(crate) use writes::{DirectoryWrite, DirectoryWrites};

use super::{SqlStore, overfetch, page_of};
use crate::db::{
    Db, FeedWrite, FromRow, Row, Scalar, Ts, query, query_assembled, query_built, values_rows,
};
use crate::scim_sql::{self, Bind, Sql, Table};
use crate::{
    ActiveScimToken, DirectoryEvent, DirectoryGroup, DirectoryRepo, DirectoryUser, GroupMember,
    ListRequest, Listing, MemberChange, MemberKind, MemberRef, NewEvent, Page, PageRequest,
    ProvisioningFilter, ProvisioningRecord, Result, StoreError, StoredUser, StoredUsersAs,
    SweptHistory, UserGroup, UserSource, WriteContext,
};

/// A stored document, which must be a JSON object.
fn document(row: &impl Row) -> Result<Map<String, Value>> {
    match row.json("document")? {
        Value::Object(map) => Ok(map),
        _ => Err(StoreError::Corrupt(
            "a stored document is not a JSON object".into(),
        )),
    }
}

/// A stored `member_type` (`'User'` or `'Group'`, by the table's CHECK).
fn member_kind_of(text: &str) -> MemberKind {
    if text == "Group" {
        MemberKind::Group
    } else {
        MemberKind::User
    }
}

impl FromRow for DirectoryUser {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(DirectoryUser {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            user_name: row.get("user_name")?,
            external_id: row.get("external_id")?,
            active: row.get("active")?,
            document: document(row)?,
            source: row.parsed("source", UserSource::parse)?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
            version: row.get("version")?,
        })
    }
}

impl FromRow for StoredUser {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(StoredUser {
            id: row.get("id")?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
            version: row.get("version")?,
            document: row.json_text("document")?,
        })
    }
}

impl FromRow for DirectoryGroup {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(DirectoryGroup {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            display_name: row.get("display_name")?,
            external_id: row.get("external_id")?,
            document: document(row)?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
            version: row.get("version")?,
        })
    }
}

impl FromRow for UserGroup {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(UserGroup {
            user_id: row.get("member_id")?,
            group_id: row.get("group_id")?,
            display_name: row.get("display_name")?,
        })
    }
}

impl FromRow for GroupMember {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(GroupMember {
            id: row.get("member_id")?,
            kind: member_kind_of(&row.get::<String>("member_type")?),
            display: row.get("display")?,
        })
    }
}

impl FromRow for DirectoryEvent {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(DirectoryEvent {
            seq: row.get("seq")?,
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            kind: row.parsed("type", EventKind::parse)?,
            resource_type: row.parsed("resource_type", EventResource::parse)?,
            resource_id: row.get("resource_id")?,
            occurred_at: row.time("occurred_at")?,
            data: row.json("data")?,
        })
    }
}

impl FromRow for ProvisioningRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(ProvisioningRecord {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            occurred_at: row.time("occurred_at")?,
            method: row.get("method")?,
            path: row.get("path")?,
            status: u16::try_from(row.get::<i64>("status")?).unwrap_or(0),
            resource_type: row.get("resource_type")?,
            resource_id: row.get("resource_id")?,
            reason: row.get("reason")?,
            request_id: row.get("request_id")?,
            token_id: row.get("token_id")?,
        })
    }
}

/// A membership a delete took away from a group.
struct Removed {
    group_id: Uuid,
    kind: MemberKind,
}

impl FromRow for Removed {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(Removed {
            group_id: row.get("group_id")?,
            kind: member_kind_of(&row.get::<String>("member_type")?),
        })
    }
}

fn display_name_lower(document: &Map<String, Value>) -> Option<String> {
    document
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}

fn user_conflict(err: StoreError) -> StoreError {
    match err {
        StoreError::Conflict(_) => {
            StoreError::Conflict("a user with this userName exists in the tenant")
        }
        other => other,
    }
}

/// Indexes the user's email addresses (for filters and sign-in by address): after
/// `replace`'s delete of the old rows, all of them in one statement (a write is a
/// round trip to the database per statement, and SQLite runs one writer at a time).
async fn write_emails<D: Db>(
    conn: &mut D::Connection,
    user: &DirectoryUser,
    replace: bool,
) -> Result<()> {
    if replace {
        query::<D>("DELETE FROM directory_user_emails WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *conn)
            .await?;
    }
    insert_emails::<D>(conn, &[user]).await
}

/// The most address rows one `INSERT` carries ([`EMAIL_COLUMNS`] values each).
const EMAILS_PER_INSERT: usize = 256;
const EMAIL_COLUMNS: usize = 6;

/// Inserts the address rows of users that have none stored, many to a statement,
/// each value bound as it is (a missing type as NULL).
async fn insert_emails<D: Db>(conn: &mut D::Connection, users: &[&DirectoryUser]) -> Result<()> {
    let rows: Vec<_> = users
        .iter()
        .flat_map(|&user| {
            idbridge_scim::resource::email_keys(&user.document)
                .into_iter()
                .enumerate()
                .map(move |(position, key)| (user, position as i64, key))
        })
        .collect();
    for rows in rows.chunks(EMAILS_PER_INSERT) {
        let mut text = String::from(
            "INSERT INTO directory_user_emails (user_id, position, tenant_id, value_lower, \
             type_lower, is_primary) VALUES ",
        );
        values_rows(&mut text, 1, rows.len(), EMAIL_COLUMNS);
        rows.iter()
            .fold(
                query_built::<D>(text),
                |insert, (user, position, (value, kind, primary))| {
                    insert
                        .bind(user.id)
                        .bind(*position)
                        .bind(user.tenant_id)
                        .bind(value.as_str())
                        .bind(kind.as_deref())
                        .bind(*primary)
                },
            )
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What a write leaves for the end of its batch ([`finish_writes`]): its log
/// line, audit record and mail (in its context), and its events.
pub(crate) struct Finished<'a> {
    pub tenant_id: Uuid,
    pub ctx: &'a WriteContext,
    /// The events the store raised, after the caller's (`ctx.events`).
    pub events: Vec<NewEvent>,
    pub counted: Option<rank_blocks::Counted>,
}

/// The end of one write made outside a batch: [`finish_writes`] of it alone.
pub(crate) async fn finish_write<D: Db>(
    conn: &mut D::Connection,
    tenant_id: Uuid,
    ctx: &WriteContext,
    extra_events: Vec<NewEvent>,
    counted: Option<rank_blocks::Counted>,
) -> Result<()> {
    let finished = Finished {
        tenant_id,
        ctx,
        events: extra_events,
        counted,
    };
    finish_writes::<D>(conn, &[finished]).await
}

/// The end of a batch of directory writes, in few statements whatever its size:
/// every log line in one insert, then each tenant's events appended to its feed and
/// its counts moved, once per tenant ([`Db::append_events`]). Each statement is a
/// round trip (PostgreSQL) or a hand-off to the connection's thread (SQLite) while
/// the batch holds the tenant's row or the file's write lock; per write, they were
/// most of a write's statements.
pub(crate) async fn finish_writes<D: Db>(
    conn: &mut D::Connection,
    finished: &[Finished<'_>],
) -> Result<()> {
    // The log lines need no sequence number: written first, before the tenant
    // lock that PostgreSQL's append takes.
    let logs: Vec<&ProvisioningRecord> =
        finished.iter().filter_map(|f| f.ctx.log.as_ref()).collect();
    insert_logs::<D>(&mut *conn, &logs).await?;
    for f in finished {
        super::audit::insert_audit_opt::<D>(&mut *conn, f.ctx.audit.as_ref()).await?;
        if let Some(mail) = &f.ctx.mail {
            super::mail::insert_outbox_mail::<D>(&mut *conn, mail).await?;
        }
    }
    // Tenants in id order: two processes' batches take tenants' rows in one order.
    let mut feeds: std::collections::BTreeMap<Uuid, FeedWrite<'_>> = Default::default();
    for f in finished {
        let feed = feeds.entry(f.tenant_id).or_insert_with(|| FeedWrite {
            tenant_id: f.tenant_id,
            events: Vec::new(),
            user_delta: 0,
            group_delta: 0,
        });
        let (user_delta, group_delta) = rank_blocks::Counted::deltas(f.counted);
        feed.user_delta += user_delta;
        feed.group_delta += group_delta;
        feed.events
            .extend(f.ctx.events.iter().chain(&f.events).map(|e| (e, f.ctx.now)));
    }
    // The rows' blocks are counted after this, at the end of the batch (`writes`),
    // once the tenants' rows are taken.
    for feed in feeds.into_values() {
        D::append_events(&mut *conn, feed).await?;
    }
    Ok(())
}

/// The most log lines one `INSERT` carries (11 values each).
const LOG_LINES_PER_INSERT: usize = 64;

async fn insert_logs<D: Db>(conn: &mut D::Connection, logs: &[&ProvisioningRecord]) -> Result<()> {
    for logs in logs.chunks(LOG_LINES_PER_INSERT) {
        let mut text = String::from(
            "INSERT INTO provisioning_log (id, tenant_id, occurred_at, method, path, status, \
             resource_type, resource_id, reason, request_id, token_id) VALUES ",
        );
        values_rows(&mut text, 1, logs.len(), 11);
        let mut insert = query_built::<D>(text);
        for log in logs {
            insert = insert
                .bind(log.id)
                .bind(log.tenant_id)
                .bind(Ts(log.occurred_at))
                .bind(&log.method)
                .bind(&log.path)
                .bind(i64::from(log.status))
                .bind(&log.resource_type)
                .bind(log.resource_id)
                .bind(&log.reason)
                .bind(&log.request_id)
                .bind(log.token_id);
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

fn member_event(
    kind: EventKind,
    group_id: Uuid,
    member_id: Uuid,
    member_kind: MemberKind,
) -> NewEvent {
    NewEvent {
        kind,
        resource_type: EventResource::Group,
        resource_id: group_id,
        data: json!({"group_id": group_id, "member_id": member_id, "member_type": member_kind.as_str()}),
    }
}

/// Whether `table` has the row `id` in this tenant.
async fn exists<D: Db>(
    conn: &mut D::Connection,
    table: Table,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool> {
    let sql = match table {
        Table::Users => "SELECT 1 FROM directory_users WHERE id = $1 AND tenant_id = $2",
        Table::Groups => "SELECT 1 FROM directory_groups WHERE id = $1 AND tenant_id = $2",
    };
    let found: Option<Scalar<i32>> = query::<D>(sql)
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// What kind of member an id names in this tenant, if any.
async fn member_kind<D: Db>(
    conn: &mut D::Connection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<MemberKind>> {
    if exists::<D>(&mut *conn, Table::Users, tenant_id, id).await? {
        return Ok(Some(MemberKind::User));
    }
    let is_group = exists::<D>(conn, Table::Groups, tenant_id, id).await?;
    Ok(is_group.then_some(MemberKind::Group))
}

async fn add_members<D: Db>(
    conn: &mut D::Connection,
    group: &DirectoryGroup,
    members: &[MemberRef],
    events: &mut Vec<NewEvent>,
) -> Result<()> {
    for member in members {
        let id = Uuid::parse_str(&member.value)
            .map_err(|_| StoreError::InvalidReference(member.value.clone()))?;
        if id == group.id {
            return Err(StoreError::InvalidReference(member.value.clone()));
        }
        let kind = member_kind::<D>(&mut *conn, group.tenant_id, id)
            .await?
            .ok_or_else(|| StoreError::InvalidReference(member.value.clone()))?;
        let inserted = query::<D>(
            "INSERT INTO directory_group_members (group_id, member_id, member_type, tenant_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(group.id)
        .bind(id)
        .bind(kind.as_str())
        .bind(group.tenant_id)
        .execute(&mut *conn)
        .await?;
        if inserted == 1 {
            events.push(member_event(
                EventKind::GroupMemberAdded,
                group.id,
                id,
                kind,
            ));
        }
    }
    Ok(())
}

async fn remove_members<D: Db>(
    conn: &mut D::Connection,
    group_id: Uuid,
    ids: &[Uuid],
    events: &mut Vec<NewEvent>,
) -> Result<()> {
    for id in ids {
        let removed: Option<Scalar<String>> = query::<D>(
            "DELETE FROM directory_group_members WHERE group_id = $1 AND member_id = $2 RETURNING member_type",
        )
        .bind(group_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(Scalar(kind)) = removed {
            events.push(member_event(
                EventKind::GroupMemberRemoved,
                group_id,
                *id,
                member_kind_of(&kind),
            ));
        }
    }
    Ok(())
}

async fn current_members<D: Db>(conn: &mut D::Connection, group_id: Uuid) -> Result<Vec<Uuid>> {
    let rows: Vec<Scalar<Uuid>> = query::<D>(
        "SELECT member_id FROM directory_group_members WHERE group_id = $1 ORDER BY member_id",
    )
    .bind(group_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|Scalar(id)| id).collect())
}

async fn apply_member_changes<D: Db>(
    conn: &mut D::Connection,
    group: &DirectoryGroup,
    changes: &[MemberChange],
    events: &mut Vec<NewEvent>,
) -> Result<()> {
    for change in changes {
        match change {
            MemberChange::Add(members) => {
                add_members::<D>(&mut *conn, group, members, events).await?
            }
            MemberChange::Remove(ids) => {
                // An id that is not a UUID is no member of anything: nothing to remove.
                let ids: Vec<Uuid> = ids
                    .iter()
                    .filter_map(|id| Uuid::parse_str(id).ok())
                    .collect();
                remove_members::<D>(&mut *conn, group.id, &ids, events).await?;
            }
            MemberChange::RemoveAll => {
                let ids = current_members::<D>(&mut *conn, group.id).await?;
                remove_members::<D>(&mut *conn, group.id, &ids, events).await?;
            }
            MemberChange::ReplaceAll(members) => {
                let wanted: Vec<Uuid> = members
                    .iter()
                    .map(|m| {
                        Uuid::parse_str(&m.value)
                            .map_err(|_| StoreError::InvalidReference(m.value.clone()))
                    })
                    .collect::<Result<_>>()?;
                let current = current_members::<D>(&mut *conn, group.id).await?;
                let gone: Vec<Uuid> = current
                    .iter()
                    .filter(|id| !wanted.contains(id))
                    .copied()
                    .collect();
                remove_members::<D>(&mut *conn, group.id, &gone, events).await?;
                let new: Vec<MemberRef> = members
                    .iter()
                    .filter(|m| Uuid::parse_str(&m.value).is_ok_and(|id| !current.contains(&id)))
                    .cloned()
                    .collect();
                add_members::<D>(&mut *conn, group, &new, events).await?;
            }
        }
    }
    Ok(())
}

/// Removes an id from every group it is a member of.
async fn remove_from_all_groups<D: Db>(
    conn: &mut D::Connection,
    member_id: Uuid,
    events: &mut Vec<NewEvent>,
) -> Result<()> {
    let removed: Vec<Removed> = query::<D>(
        "DELETE FROM directory_group_members WHERE member_id = $1 RETURNING group_id, member_type",
    )
    .bind(member_id)
    .fetch_all(conn)
    .await?;
    for Removed { group_id, kind } in removed {
        events.push(member_event(
            EventKind::GroupMemberRemoved,
            group_id,
            member_id,
            kind,
        ));
    }
    Ok(())
}

/// Why an update or delete found nothing to change: the row is gone, or its
/// version moved.
async fn missing_or_moved<D: Db>(
    conn: &mut D::Connection,
    table: Table,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<StoreError> {
    Ok(if exists::<D>(conn, table, tenant_id, id).await? {
        StoreError::VersionMismatch
    } else {
        StoreError::NotFound
    })
}

/// Rows a history sweep deletes per statement.
const SWEEP_BATCH: i64 = 5_000;

/// The smallest UUIDv7 of the millisecond `at`: every v7 id below it was made
/// before `at`. Events and log lines have v7 ids made when they were written, so the
/// id's unique index finds old history without an index on its time.
fn v7_floor(at: OffsetDateTime) -> Uuid {
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    Uuid::from_bytes(bytes)
}

/// A resource a SCIM list reads: the columns it is read from, and its id, for the
/// walk's page anchors.
trait Listed: FromRow {
    /// The columns of a page's rows `r` that [`FromRow::from_row`] reads.
    const COLUMNS: &'static str;

    fn id(&self) -> Uuid;
}

/// A listed row and the tenant's count read beside it (see [`scim_sql::project`]).
struct WithTotal<T> {
    item: T,
    total: Option<i64>,
}

impl<T: FromRow> FromRow for WithTotal<T> {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(Self {
            item: T::from_row(row)?,
            total: row.get("listed_total")?,
        })
    }
}

/// The one statement [`DirectoryRepo::list_stored_users_as`] reads a lookup of
/// at most one user and its caller's token with, if `request` is such a lookup.
/// `None` for any other list, and for a filter that does not compile: that is
/// reported only to a caller whose token opens the tenant, so it is compiled again
/// after the token is read.
pub(crate) fn stored_lookup_as_caller(
    dialect: scim_sql::Dialect,
    token_hash: &[u8],
    slug: &str,
    request: &ListRequest,
    with_groups: bool,
) -> Option<Sql> {
    let filter = scim_sql::one_row_lookup(Table::Users, request)?;
    let projection = scim_sql::Projection {
        table: Table::Users,
        columns: StoredUser::COLUMNS,
        member_of: with_groups,
        total_of: None,
    };
    scim_sql::page_of_one_as_caller_query(dialect, &projection, token_hash, slug, filter).ok()
}

/// A row of a statement that checks the caller's token itself
/// ([`scim_sql::page_of_one_as_caller_query`]): the token, and the page's row if
/// one matched (its columns are NULL otherwise).
struct AsCaller<T> {
    token: ActiveScimToken,
    item: Option<T>,
}

impl<T: FromRow> FromRow for AsCaller<T> {
    fn from_row(row: &impl Row) -> Result<Self> {
        let item = match row.get::<Option<Uuid>>("id")? {
            Some(_) => Some(T::from_row(row)?),
            None => None,
        };
        Ok(Self {
            token: super::TokenColumns::CALLER.read(row)?,
            item,
        })
    }
}

impl StoredUsersAs {
    /// The answer for a token of another tenant than the one named: nothing read.
    fn nothing_for(token: ActiveScimToken, with_groups: bool) -> Self {
        let listing = Listing {
            total: 0,
            items: Vec::new(),
        };
        Self {
            token,
            page: Ok((listing, with_groups.then(Vec::new))),
        }
    }
}

impl Listed for DirectoryUser {
    const COLUMNS: &'static str = "r.*";

    fn id(&self) -> Uuid {
        self.id
    }
}

/// A user and the groups it directly belongs to (a query's `member_of` column, see
/// [`scim_sql::member_of_column`]).
struct UserWithGroups<U = DirectoryUser> {
    user: U,
    groups: Vec<UserGroup>,
}

impl<U: Listed> FromRow for UserWithGroups<U> {
    fn from_row(row: &impl Row) -> Result<Self> {
        let user = U::from_row(row)?;
        let user_id = user.id();
        // `[[id, displayName], …]`; NULL for none.
        let member_of: Option<String> = row.get("member_of")?;
        let pairs: Vec<(String, String)> = match member_of {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("member_of: {e}")))?,
            None => Vec::new(),
        };
        let mut groups = pairs
            .into_iter()
            .map(|(id, display_name)| {
                let group_id = Uuid::parse_str(&id)
                    .map_err(|e| StoreError::Corrupt(format!("member_of id {id:?}: {e}")))?;
                Ok(UserGroup {
                    user_id,
                    group_id,
                    display_name,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The order `groups_of_users` gives, whatever order the aggregate saw.
        groups.sort_by(|a, b| {
            (a.display_name.as_str(), a.group_id).cmp(&(b.display_name.as_str(), b.group_id))
        });
        Ok(Self { user, groups })
    }
}

impl<U> UserWithGroups<U> {
    /// The page's users, and all their groups.
    fn split(listing: Listing<Self>) -> (Listing<U>, Vec<UserGroup>) {
        let mut users = Vec::with_capacity(listing.items.len());
        let mut groups = Vec::new();
        for UserWithGroups { user, groups: of } in listing.items {
            users.push(user);
            groups.extend(of);
        }
        let listing = Listing {
            total: listing.total,
            items: users,
        };
        (listing, groups)
    }
}

impl<U: Listed> Listed for UserWithGroups<U> {
    const COLUMNS: &'static str = U::COLUMNS;

    fn id(&self) -> Uuid {
        self.user.id()
    }
}

impl Listed for StoredUser {
    const COLUMNS: &'static str = "r.id, r.created_at, r.updated_at, r.version, r.document";

    fn id(&self) -> Uuid {
        self.id
    }
}

impl Listed for DirectoryGroup {
    const COLUMNS: &'static str = "r.*";

    fn id(&self) -> Uuid {
        self.id
    }
}

impl<D: Db> SqlStore<D> {
    /// A SCIM list: one page, and the total matching.
    async fn list<T: Listed>(
        &self,
        table: Table,
        tenant_id: Uuid,
        request: &ListRequest,
        member_of: bool,
    ) -> Result<Listing<T>> {
        let mut conn = self.read().await?;
        // Without a filter, the total is the tenant's maintained count, not a scan.
        let maintained_total = async |conn: &mut crate::readers::ReadConn<D>| -> Result<i64> {
            let sql = match table {
                Table::Users => "SELECT user_count FROM tenants WHERE id = $1",
                Table::Groups => "SELECT group_count FROM tenants WHERE id = $1",
            };
            let count: Option<Scalar<i64>> = query::<D>(sql)
                .bind(tenant_id)
                .fetch_optional(&mut **conn)
                .await?;
            Ok(count.map_or(0, |Scalar(count)| count.max(0)))
        };
        // A walk (no filter, no sort) continues from where its last page ended; a
        // page of it asked out of the blue past the middle is counted from the end.
        let walk = request.filter.is_none() && request.sort.is_none() && request.count > 0;
        let anchor = walk
            .then(|| self.anchors.get(tenant_id, table, request.start_index))
            .flatten();
        let mut total = None;
        // What each row is read with; the tenant's count with it (`Some`) where the
        // total is not yet known and no filter leaves it to be counted.
        let projection = |total_of: Option<Uuid>| scim_sql::Projection {
            table,
            columns: T::COLUMNS,
            member_of,
            total_of,
        };
        let sql = match anchor {
            // A walk's first page, or its next: in id order, straight from the index.
            _ if walk && (anchor.is_some() || request.start_index <= 1) => {
                Some(scim_sql::page_in_order_query(
                    D::DIALECT,
                    &projection(Some(tenant_id)),
                    tenant_id,
                    anchor,
                    request.count,
                ))
            }
            None if walk => {
                let all = maintained_total(&mut conn).await?;
                total = Some(all);
                let skipped = (request.start_index - 1) as i64;
                // Deep in the list: from the block the page starts in.
                let located = if skipped > rank_blocks::BLOCK_ROWS && skipped < all {
                    rank_blocks::locate::<D>(&mut conn, tenant_id, table, skipped, all).await?
                } else {
                    None
                };
                let page = if let Some((from, skip)) = located {
                    Some(scim_sql::page_within_query(
                        D::DIALECT,
                        table,
                        tenant_id,
                        from,
                        skip,
                        request.count,
                    ))
                } else if skipped > all / 2 {
                    let remaining = all - skipped;
                    (remaining > 0).then(|| {
                        let limit = remaining.min(request.count as i64);
                        scim_sql::page_from_end_query(
                            D::DIALECT,
                            table,
                            tenant_id,
                            limit,
                            remaining - limit,
                        )
                    })
                } else {
                    scim_sql::page_query(D::DIALECT, table, tenant_id, request)?
                };
                page.map(|page| scim_sql::project(page, &projection(None), None))
                    .transpose()?
            }
            _ if let Some(filter) = scim_sql::one_row_lookup(table, request) => Some(
                scim_sql::page_of_one_query(D::DIALECT, &projection(None), tenant_id, filter)?,
            ),
            _ => {
                let total_of = request.filter.is_none().then_some(tenant_id);
                scim_sql::page_query(D::DIALECT, table, tenant_id, request)?
                    .map(|page| {
                        scim_sql::project(page, &projection(total_of), request.sort.as_ref())
                    })
                    .transpose()?
            }
        };
        let mut items: Vec<T> = Vec::new();
        let mut listed_total = None;
        if let Some(sql) = sql {
            let rows: Vec<WithTotal<T>> = query_assembled::<D>(sql).fetch_all(&mut conn).await?;
            items.reserve_exact(rows.len());
            for row in rows {
                listed_total = listed_total.or(row.total);
                items.push(row.item);
            }
        }
        if walk
            && items.len() == request.count
            && let Some(last) = items.last()
        {
            let next = request.start_index.max(1) + request.count;
            self.anchors.put(tenant_id, table, next, last.id());
        }
        let total = match (
            total,
            scim_sql::total_from_page(request, items.len()),
            &request.filter,
        ) {
            (Some(total), _, _) => total,
            (None, Some(total), _) => total as i64,
            (None, None, None) => match listed_total {
                Some(total) => total,
                // No row to read it beside (a page past the end).
                None => maintained_total(&mut conn).await?,
            },
            (None, None, Some(filter)) => {
                let sql = scim_sql::count_query(D::DIALECT, table, tenant_id, filter)?;
                let Scalar(count) = query_assembled::<D>(sql).fetch_one(&mut conn).await?;
                count
            }
        };
        Ok(Listing {
            total: total.max(0) as u64,
            items,
        })
    }
}

#[async_trait]
impl<D: Db> DirectoryRepo for SqlStore<D> {
    async fn create_user(&self, user: &DirectoryUser, ctx: &WriteContext) -> Result<()> {
        self.directory_write(DirectoryWrite::CreateUser {
            user: user.clone(),
            ctx: ctx.clone(),
        })
        .await
        .map(drop)
    }

    async fn user_for_sign_in(
        &self,
        tenant_id: Uuid,
        email: &str,
    ) -> Result<Option<DirectoryUser>> {
        let lowered = email.to_lowercase();
        let mut conn = self.read().await?;
        let by_user_name = query::<D>(
            "SELECT * FROM directory_users WHERE tenant_id = $1 AND user_name_lower = $2",
        )
        .bind(tenant_id)
        .bind(&lowered)
        .fetch_optional(&mut conn)
        .await?;
        match by_user_name {
            Some(user) => Ok(Some(user)),
            None => {
                query::<D>(
                    "SELECT u.* FROM directory_user_emails e JOIN directory_users u ON u.id = e.user_id \
                     WHERE e.tenant_id = $1 AND e.value_lower = $2 ORDER BY u.id LIMIT 1",
                )
                .bind(tenant_id)
                .bind(&lowered)
                .fetch_optional(&mut conn)
                .await
            }
        }
    }

    async fn manual_user_at(
        &self,
        tenant_id: Uuid,
        address: &str,
    ) -> Result<Option<DirectoryUser>> {
        // Two indexed branches (userName, then the emails), not an OR the planner
        // would answer by scanning the tenant's users.
        query::<D>(
            "SELECT * FROM (SELECT u.* FROM directory_users u WHERE u.tenant_id = $1 \
             AND u.user_name_lower = $2 AND u.source = 'manual' \
             UNION ALL SELECT u.* FROM directory_user_emails e \
             JOIN directory_users u ON u.id = e.user_id \
             WHERE e.tenant_id = $1 AND e.value_lower = $2 AND u.source = 'manual') m LIMIT 1",
        )
        .bind(tenant_id)
        .bind(address)
        .fetch_optional(&mut *self.read().await?)
        .await
    }

    async fn user_by_id(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<DirectoryUser>> {
        query::<D>("SELECT * FROM directory_users WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn user_with_groups(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<(DirectoryUser, Vec<UserGroup>)>> {
        let mut sql = Sql::new(D::DIALECT);
        sql.push("SELECT r.*, ")
            .push(scim_sql::member_of_column(D::DIALECT))
            .push(" FROM directory_users r WHERE r.id = ")
            .bind(Bind::Uuid(id))
            .push(" AND r.tenant_id = ")
            .bind(Bind::Uuid(tenant_id));
        let found: Option<UserWithGroups> = query_assembled::<D>(sql)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(found.map(|UserWithGroups { user, groups }| (user, groups)))
    }

    async fn update_user(
        &self,
        user: &DirectoryUser,
        expected_version: i64,
        emails_changed: bool,
        ctx: &WriteContext,
    ) -> Result<()> {
        self.directory_write(DirectoryWrite::UpdateUser {
            user: user.clone(),
            expected_version,
            emails_changed,
            ctx: ctx.clone(),
        })
        .await
        .map(drop)
    }

    async fn email_of_deleted_user(&self, tenant_id: Uuid, email: &str) -> Result<bool> {
        let found: Option<Scalar<i32>> = query::<D>(
            "SELECT 1 FROM deleted_user_emails WHERE tenant_id = $1 AND email_lower = $2",
        )
        .bind(tenant_id)
        .bind(email.to_lowercase())
        .fetch_optional(&mut *self.read().await?)
        .await?;
        Ok(found.is_some())
    }

    async fn delete_user(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        ctx: &WriteContext,
    ) -> Result<()> {
        self.directory_write(DirectoryWrite::DeleteUser {
            tenant_id,
            id,
            expected_version,
            ctx: ctx.clone(),
        })
        .await
        .map(drop)
    }

    async fn list_users(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<Listing<DirectoryUser>> {
        self.list(Table::Users, tenant_id, request, false).await
    }

    async fn list_users_with_groups(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<(Listing<DirectoryUser>, Vec<UserGroup>)> {
        Ok(UserWithGroups::split(
            self.list(Table::Users, tenant_id, request, true).await?,
        ))
    }

    async fn list_stored_users(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
        with_groups: bool,
    ) -> Result<(Listing<StoredUser>, Option<Vec<UserGroup>>)> {
        if !with_groups {
            return Ok((
                self.list(Table::Users, tenant_id, request, false).await?,
                None,
            ));
        }
        let (listing, groups) = UserWithGroups::<StoredUser>::split(
            self.list(Table::Users, tenant_id, request, true).await?,
        );
        Ok((listing, Some(groups)))
    }

    async fn list_stored_users_as(
        &self,
        token_hash: &SecretHash,
        slug: &str,
        request: &ListRequest,
        with_groups: bool,
    ) -> Result<Option<StoredUsersAs>> {
        let fused = stored_lookup_as_caller(
            D::DIALECT,
            super::digest(token_hash),
            slug,
            request,
            with_groups,
        );
        let Some(sql) = fused else {
            // The token first, then the list as any other.
            let Some(token) = crate::CredentialRepo::active_scim_token(self, token_hash).await?
            else {
                return Ok(None);
            };
            if token.tenant_slug.as_str() != slug {
                return Ok(Some(StoredUsersAs::nothing_for(token, with_groups)));
            }
            let page = self
                .list_stored_users(token.tenant_id, request, with_groups)
                .await;
            return Ok(Some(StoredUsersAs { token, page }));
        };
        let mut conn = self.read().await?;
        let query = query_assembled::<D>(sql);
        let (token, items, groups) = if with_groups {
            let rows: Vec<AsCaller<UserWithGroups<StoredUser>>> =
                query.fetch_all(&mut conn).await?;
            let Some(token) = rows.first().map(|row| row.token.clone()) else {
                return Ok(None);
            };
            let (listing, groups) = UserWithGroups::split(Listing {
                total: 0,
                items: rows.into_iter().filter_map(|row| row.item).collect(),
            });
            (token, listing.items, Some(groups))
        } else {
            let rows: Vec<AsCaller<StoredUser>> = query.fetch_all(&mut conn).await?;
            let Some(token) = rows.first().map(|row| row.token.clone()) else {
                return Ok(None);
            };
            (
                token,
                rows.into_iter().filter_map(|row| row.item).collect(),
                None,
            )
        };
        // At most one row matches: the page is all there is.
        let listing = Listing {
            total: items.len() as u64,
            items,
        };
        Ok(Some(StoredUsersAs {
            token,
            page: Ok((listing, groups)),
        }))
    }

    async fn groups_of_users(&self, tenant_id: Uuid, user_ids: &[Uuid]) -> Result<Vec<UserGroup>> {
        let mut conn = self.read().await?;
        let mut out = Vec::new();
        for chunk in user_ids.chunks(500) {
            let mut sql = Sql::new(D::DIALECT);
            sql.push(
                "SELECT m.member_id, g.id AS group_id, g.display_name FROM directory_group_members m \
                 JOIN directory_groups g ON g.id = m.group_id WHERE m.tenant_id = ",
            )
            .bind(Bind::Uuid(tenant_id))
            .push(" AND m.member_id IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(Bind::Uuid(*id));
            }
            sql.push(") ORDER BY g.display_name, g.id");
            out.extend(
                query_assembled::<D>(sql)
                    .fetch_all::<UserGroup>(&mut conn)
                    .await?,
            );
        }
        // By name, then id, byte by byte: the same order on both backends (whatever
        // PostgreSQL's collation) and in `list_users_with_groups`.
        out.sort_by(|a, b| {
            (a.display_name.as_str(), a.group_id).cmp(&(b.display_name.as_str(), b.group_id))
        });
        Ok(out)
    }

    async fn create_group(
        &self,
        group: &DirectoryGroup,
        members: &[MemberRef],
        ctx: &WriteContext,
    ) -> Result<()> {
        self.directory_write(DirectoryWrite::CreateGroup {
            group: group.clone(),
            members: members.to_vec(),
            ctx: ctx.clone(),
        })
        .await
        .map(drop)
    }

    async fn group_by_id(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<DirectoryGroup>> {
        query::<D>("SELECT * FROM directory_groups WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn group_members(
        &self,
        tenant_id: Uuid,
        group_ids: &[Uuid],
    ) -> Result<Vec<(Uuid, GroupMember)>> {
        let mut conn = self.read().await?;
        let mut out = Vec::new();
        for group_id in group_ids {
            let members: Vec<GroupMember> = query::<D>(
                "SELECT m.member_id, m.member_type, \
                   COALESCE(u.document ->> 'displayName', u.user_name, g.display_name) AS display \
                 FROM directory_group_members m \
                 LEFT JOIN directory_users u ON m.member_type = 'User' AND u.id = m.member_id \
                 LEFT JOIN directory_groups g ON m.member_type = 'Group' AND g.id = m.member_id \
                 WHERE m.group_id = $1 AND m.tenant_id = $2 ORDER BY m.member_id",
            )
            .bind(group_id)
            .bind(tenant_id)
            .fetch_all(&mut conn)
            .await?;
            out.extend(members.into_iter().map(|member| (*group_id, member)));
        }
        Ok(out)
    }

    async fn update_group(
        &self,
        group: &DirectoryGroup,
        expected_version: i64,
        changes: &[MemberChange],
        ctx: &WriteContext,
    ) -> Result<()> {
        self.directory_write(DirectoryWrite::UpdateGroup {
            group: group.clone(),
            expected_version,
            changes: changes.to_vec(),
            ctx: ctx.clone(),
        })
        .await
        .map(drop)
    }

    async fn change_group_members(
        &self,
        group: &DirectoryGroup,
        changes: &[MemberChange],
        ctx: &WriteContext,
    ) -> Result<i64> {
        let version = self
            .directory_write(DirectoryWrite::ChangeGroupMembers {
                group: group.clone(),
                changes: changes.to_vec(),
                ctx: ctx.clone(),
            })
            .await?;
        version.ok_or_else(|| StoreError::Corrupt("a member change was given no version".into()))
    }

    async fn delete_group(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        ctx: &WriteContext,
    ) -> Result<()> {
        self.directory_write(DirectoryWrite::DeleteGroup {
            tenant_id,
            id,
            expected_version,
            ctx: ctx.clone(),
        })
        .await
        .map(drop)
    }

    async fn list_groups(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<Listing<DirectoryGroup>> {
        self.list(Table::Groups, tenant_id, request, false).await
    }

    async fn page_users(&self, tenant_id: Uuid, page: PageRequest) -> Result<Page<DirectoryUser>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM directory_users WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |u: &DirectoryUser| u.id))
    }

    async fn page_groups(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<DirectoryGroup>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM directory_groups WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |g: &DirectoryGroup| g.id))
    }

    async fn sweep_history(
        &self,
        events_before: Option<OffsetDateTime>,
        log_before: Option<OffsetDateTime>,
    ) -> Result<SweptHistory> {
        let mut swept = SweptHistory::default();
        if let Some(before) = log_before {
            let cutoff = v7_floor(before);
            loop {
                let deleted = query::<D>(
                    "DELETE FROM provisioning_log WHERE id IN \
                     (SELECT id FROM provisioning_log WHERE id < $1 ORDER BY id LIMIT $2)",
                )
                .bind(cutoff)
                .bind(SWEEP_BATCH)
                .execute(&mut *self.write().await?)
                .await?;
                swept.log_lines += deleted;
                if deleted < SWEEP_BATCH as u64 {
                    break;
                }
            }
        }
        if let Some(before) = events_before {
            let cutoff = v7_floor(before);
            let mut after = Uuid::nil();
            loop {
                let batch: Vec<Scalar<Uuid>> = query::<D>(
                    "SELECT id FROM directory_events WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3",
                )
                .bind(after)
                .bind(cutoff)
                .bind(SWEEP_BATCH)
                .fetch_all(&mut *self.read().await?)
                .await?;
                let Some(&Scalar(last)) = batch.last() else {
                    break;
                };
                // An event stays while an endpoint that covers its tenant has not delivered
                // it (no cursor yet: nothing delivered). A disabled or dead endpoint keeps
                // its place too, to catch up from when it returns; deleting the endpoint
                // lets its backlog go.
                swept.events += query::<D>(
                    "DELETE FROM directory_events WHERE id > $1 AND id <= $2 AND seq <= COALESCE(( \
                       SELECT min(COALESCE(c.delivered_seq, 0)) FROM webhook_endpoints e \
                       LEFT JOIN webhook_cursors c \
                         ON c.endpoint_id = e.id AND c.tenant_id = directory_events.tenant_id \
                       WHERE e.tenant_id IS NULL OR e.tenant_id = directory_events.tenant_id \
                     ), seq)",
                )
                .bind(after)
                .bind(last)
                .execute(&mut *self.write().await?)
                .await?;
                if batch.len() < SWEEP_BATCH as usize {
                    break;
                }
                after = last;
            }
        }
        Ok(swept)
    }

    async fn list_events(
        &self,
        tenant_id: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DirectoryEvent>> {
        query::<D>(
            "SELECT * FROM directory_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await
    }

    async fn record_provisioning(&self, record: &ProvisioningRecord) -> Result<()> {
        insert_logs::<D>(&mut *self.write().await?, &[record]).await
    }

    async fn list_provisioning_filtered(
        &self,
        tenant_id: Uuid,
        filter: &ProvisioningFilter,
        page: PageRequest,
    ) -> Result<Page<ProvisioningRecord>> {
        let sql = crate::log_filter::provisioning_page_query(D::DIALECT, tenant_id, filter, page);
        let rows = query_assembled::<D>(sql)
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(page_of(rows, page, |r: &ProvisioningRecord| r.id))
    }
}

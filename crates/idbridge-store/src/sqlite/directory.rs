//! The directory on SQLite.

use crate::directory::{event_kind, event_resource};
use async_trait::async_trait;
use idbridge_core::{EventKind, EventResource};
use serde_json::{Map, Value, json};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Row, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::{SqliteStore, from_micros, micros, uuid_of};
use crate::scim_sql::{self, Bind, Dialect, Sql, Table};
use crate::{
    DirectoryEvent, DirectoryGroup, DirectoryRepo, DirectoryUser, GroupMember, ListRequest,
    Listing, MemberChange, MemberKind, MemberRef, NewEvent, Page, PageRequest, ProvisioningRecord,
    Result, StoreError, UserGroup, UserSource, WriteContext,
};

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

pub(super) fn bind_all(mut query: Query<'_>, binds: Vec<Bind>) -> Query<'_> {
    for bind in binds {
        query = match bind {
            Bind::Text(v) => query.bind(v),
            Bind::Int(v) => query.bind(v),
            Bind::Float(v) => query.bind(v),
            Bind::Bool(v) => query.bind(v),
            Bind::Uuid(v) => query.bind(v),
            Bind::Time(v) => query.bind(micros(v)),
            // JSON paths are text on SQLite; arrays only arise for PostgreSQL.
            Bind::TextArray(v) => query.bind(v.join(".")),
        };
    }
    query
}

fn json_of(text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Corrupt(
            "a stored document is not a JSON object".into(),
        )),
    }
}

fn user_from_row(row: &SqliteRow) -> Result<DirectoryUser> {
    let source: String = row.try_get("source")?;
    Ok(DirectoryUser {
        id: uuid_of(row, "id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        user_name: row.try_get("user_name")?,
        external_id: row.try_get("external_id")?,
        active: row.try_get("active")?,
        document: json_of(&row.try_get::<String, _>("document")?)?,
        source: UserSource::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(format!("source {source:?}")))?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
        version: row.try_get("version")?,
    })
}

fn group_from_row(row: &SqliteRow) -> Result<DirectoryGroup> {
    Ok(DirectoryGroup {
        id: uuid_of(row, "id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        display_name: row.try_get("display_name")?,
        external_id: row.try_get("external_id")?,
        document: json_of(&row.try_get::<String, _>("document")?)?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
        version: row.try_get("version")?,
    })
}

fn display_name_lower(document: &Map<String, Value>) -> Option<String> {
    document
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}

fn user_conflict(err: sqlx::Error) -> StoreError {
    match StoreError::from(err) {
        StoreError::Conflict(_) => {
            StoreError::Conflict("a user with this userName exists in the tenant")
        }
        other => other,
    }
}

async fn write_emails(conn: &mut SqliteConnection, user: &DirectoryUser) -> Result<()> {
    sqlx::query("DELETE FROM directory_user_emails WHERE user_id = ?1")
        .bind(user.id)
        .execute(&mut *conn)
        .await?;
    for (position, (value, kind, primary)) in idbridge_scim::resource::email_keys(&user.document)
        .into_iter()
        .enumerate()
    {
        sqlx::query(
            "INSERT INTO directory_user_emails (user_id, position, tenant_id, value_lower, type_lower, is_primary) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(user.id)
        .bind(position as i64)
        .bind(user.tenant_id)
        .bind(value)
        .bind(kind)
        .bind(primary)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Appends events to the tenant's feed (taking the next sequence numbers), adjusts the
/// tenant's counts, and writes the log line. Runs last in every write transaction.
pub(super) async fn finish_write(
    conn: &mut SqliteConnection,
    tenant_id: Uuid,
    ctx: &WriteContext,
    extra_events: Vec<NewEvent>,
    user_delta: i64,
    group_delta: i64,
) -> Result<()> {
    let events: Vec<&NewEvent> = ctx.events.iter().chain(extra_events.iter()).collect();
    let last: i64 = sqlx::query_scalar(
        "UPDATE tenants SET event_seq = event_seq + ?2, user_count = user_count + ?3, \
         group_count = group_count + ?4 WHERE id = ?1 RETURNING event_seq",
    )
    .bind(tenant_id)
    .bind(events.len() as i64)
    .bind(user_delta)
    .bind(group_delta)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let first = last - events.len() as i64 + 1;
    for (offset, event) in events.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO directory_events (tenant_id, seq, id, type, resource_type, resource_id, occurred_at, data) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(tenant_id)
        .bind(first + offset as i64)
        .bind(Uuid::now_v7())
        .bind(event.kind.as_str())
        .bind(event.resource_type.as_str())
        .bind(event.resource_id)
        .bind(micros(ctx.now))
        .bind(event.data.to_string())
        .execute(&mut *conn)
        .await?;
    }
    match &ctx.log {
        Some(log) => insert_log(conn, log).await,
        None => Ok(()),
    }
}

async fn insert_log(conn: &mut SqliteConnection, log: &ProvisioningRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO provisioning_log (id, tenant_id, occurred_at, method, path, status, resource_type, \
         resource_id, reason, request_id, token_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(log.id)
    .bind(log.tenant_id)
    .bind(micros(log.occurred_at))
    .bind(&log.method)
    .bind(&log.path)
    .bind(i64::from(log.status))
    .bind(&log.resource_type)
    .bind(log.resource_id)
    .bind(&log.reason)
    .bind(&log.request_id)
    .bind(log.token_id)
    .execute(&mut *conn)
    .await?;
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

/// What kind of member an id names in this tenant, if any.
async fn member_kind(
    conn: &mut SqliteConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<MemberKind>> {
    let is_user: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM directory_users WHERE id = ?1 AND tenant_id = ?2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *conn)
            .await?;
    if is_user.is_some() {
        return Ok(Some(MemberKind::User));
    }
    let is_group: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM directory_groups WHERE id = ?1 AND tenant_id = ?2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(is_group.map(|_| MemberKind::Group))
}

async fn add_members(
    conn: &mut SqliteConnection,
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
        let kind = member_kind(conn, group.tenant_id, id)
            .await?
            .ok_or_else(|| StoreError::InvalidReference(member.value.clone()))?;
        let inserted = sqlx::query(
            "INSERT INTO directory_group_members (group_id, member_id, member_type, tenant_id) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )
        .bind(group.id)
        .bind(id)
        .bind(kind.as_str())
        .bind(group.tenant_id)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
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

async fn remove_members(
    conn: &mut SqliteConnection,
    group_id: Uuid,
    ids: &[Uuid],
    events: &mut Vec<NewEvent>,
) -> Result<()> {
    for id in ids {
        let removed: Option<String> = sqlx::query_scalar(
            "DELETE FROM directory_group_members WHERE group_id = ?1 AND member_id = ?2 RETURNING member_type",
        )
        .bind(group_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(kind) = removed {
            let kind = if kind == "Group" {
                MemberKind::Group
            } else {
                MemberKind::User
            };
            events.push(member_event(
                EventKind::GroupMemberRemoved,
                group_id,
                *id,
                kind,
            ));
        }
    }
    Ok(())
}

async fn current_members(conn: &mut SqliteConnection, group_id: Uuid) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(
        "SELECT member_id FROM directory_group_members WHERE group_id = ?1 ORDER BY member_id",
    )
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| uuid_of(r, "member_id")).collect()
}

async fn apply_member_changes(
    conn: &mut SqliteConnection,
    group: &DirectoryGroup,
    changes: &[MemberChange],
    events: &mut Vec<NewEvent>,
) -> Result<()> {
    for change in changes {
        match change {
            MemberChange::Add(members) => add_members(conn, group, members, events).await?,
            MemberChange::Remove(ids) => {
                // An id that is not a UUID is no member of anything: nothing to remove.
                let ids: Vec<Uuid> = ids
                    .iter()
                    .filter_map(|id| Uuid::parse_str(id).ok())
                    .collect();
                remove_members(conn, group.id, &ids, events).await?;
            }
            MemberChange::RemoveAll => {
                let ids = current_members(conn, group.id).await?;
                remove_members(conn, group.id, &ids, events).await?;
            }
            MemberChange::ReplaceAll(members) => {
                let wanted: Vec<Uuid> = members
                    .iter()
                    .map(|m| {
                        Uuid::parse_str(&m.value)
                            .map_err(|_| StoreError::InvalidReference(m.value.clone()))
                    })
                    .collect::<Result<_>>()?;
                let current = current_members(conn, group.id).await?;
                let gone: Vec<Uuid> = current
                    .iter()
                    .filter(|id| !wanted.contains(id))
                    .copied()
                    .collect();
                remove_members(conn, group.id, &gone, events).await?;
                let new: Vec<MemberRef> = members
                    .iter()
                    .filter(|m| Uuid::parse_str(&m.value).is_ok_and(|id| !current.contains(&id)))
                    .cloned()
                    .collect();
                add_members(conn, group, &new, events).await?;
            }
        }
    }
    Ok(())
}

/// Removes an id from every group it is a member of.
async fn remove_from_all_groups(
    conn: &mut SqliteConnection,
    member_id: Uuid,
    events: &mut Vec<NewEvent>,
) -> Result<()> {
    let rows = sqlx::query(
        "DELETE FROM directory_group_members WHERE member_id = ?1 RETURNING group_id, member_type",
    )
    .bind(member_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let kind: String = row.try_get("member_type")?;
        let kind = if kind == "Group" {
            MemberKind::Group
        } else {
            MemberKind::User
        };
        events.push(member_event(
            EventKind::GroupMemberRemoved,
            uuid_of(&row, "group_id")?,
            member_id,
            kind,
        ));
    }
    Ok(())
}

/// Checks the version of a row that an update or delete found nothing to change in.
async fn missing_or_moved(
    conn: &mut SqliteConnection,
    table: &'static str,
    tenant_id: Uuid,
    id: Uuid,
) -> StoreError {
    let sql = match table {
        "directory_users" => "SELECT 1 FROM directory_users WHERE id = ?1 AND tenant_id = ?2",
        _ => "SELECT 1 FROM directory_groups WHERE id = ?1 AND tenant_id = ?2",
    };
    match sqlx::query_scalar::<_, i64>(sql)
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await
    {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::NotFound,
        Err(err) => err.into(),
    }
}

async fn list<T>(
    store: &SqliteStore,
    table: Table,
    tenant_id: Uuid,
    request: &ListRequest,
    from_row: fn(&SqliteRow) -> Result<T>,
) -> Result<Listing<T>> {
    let mut items = Vec::new();
    if let Some(sql) = scim_sql::page_query(Dialect::Sqlite, table, tenant_id, request)? {
        let Sql { text, binds, .. } = sql;
        // The SQL text is built only from scim_sql's fixed fragments; values are bound.
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), binds)
            .fetch_all(&store.pool)
            .await?;
        items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    }
    let total = match (
        scim_sql::total_from_page(request, items.len()),
        &request.filter,
    ) {
        (Some(total), _) => total as i64,
        // Without a filter, the total is the tenant's maintained count, not a scan.
        (None, None) => {
            let sql = match table {
                Table::Users => "SELECT user_count FROM tenants WHERE id = ?1",
                Table::Groups => "SELECT group_count FROM tenants WHERE id = ?1",
            };
            sqlx::query_scalar(sql)
                .bind(tenant_id)
                .fetch_optional(&store.pool)
                .await?
                .unwrap_or(0)
        }
        (None, Some(filter)) => {
            let Sql { text, binds, .. } =
                scim_sql::count_query(Dialect::Sqlite, table, tenant_id, filter)?;
            let query = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), binds);
            query.fetch_one(&store.pool).await?.try_get(0)?
        }
    };
    Ok(Listing {
        total: total.max(0) as u64,
        items,
    })
}

#[async_trait]
impl DirectoryRepo for SqliteStore {
    async fn create_user(&self, user: &DirectoryUser, ctx: &WriteContext) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO directory_users (id, tenant_id, user_name, user_name_lower, external_id, \
             display_name_lower, active, document, source, created_at, updated_at, version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(user.id)
        .bind(user.tenant_id)
        .bind(&user.user_name)
        .bind(user.user_name.to_lowercase())
        .bind(&user.external_id)
        .bind(display_name_lower(&user.document))
        .bind(user.active)
        .bind(Value::Object(user.document.clone()).to_string())
        .bind(user.source.as_str())
        .bind(micros(user.created_at))
        .bind(micros(user.updated_at))
        .bind(user.version)
        .execute(&mut *tx)
        .await
        .map_err(user_conflict)?;
        write_emails(&mut tx, user).await?;
        finish_write(&mut tx, user.tenant_id, ctx, Vec::new(), 1, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_for_sign_in(
        &self,
        tenant_id: Uuid,
        email: &str,
    ) -> Result<Option<DirectoryUser>> {
        let lowered = email.to_lowercase();
        let by_user_name = sqlx::query(
            "SELECT * FROM directory_users WHERE tenant_id = ?1 AND user_name_lower = ?2",
        )
        .bind(tenant_id)
        .bind(&lowered)
        .fetch_optional(&self.pool)
        .await?;
        let row = match by_user_name {
            Some(row) => Some(row),
            None => {
                sqlx::query(
                    "SELECT u.* FROM directory_user_emails e JOIN directory_users u ON u.id = e.user_id \
                     WHERE e.tenant_id = ?1 AND e.value_lower = ?2 ORDER BY u.id LIMIT 1",
                )
                .bind(tenant_id)
                .bind(&lowered)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_id(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<DirectoryUser>> {
        sqlx::query("SELECT * FROM directory_users WHERE id = ?1 AND tenant_id = ?2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn update_user(
        &self,
        user: &DirectoryUser,
        expected_version: i64,
        ctx: &WriteContext,
    ) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let result = sqlx::query(
            "UPDATE directory_users SET user_name = ?3, user_name_lower = ?4, external_id = ?5, \
             display_name_lower = ?6, active = ?7, document = ?8, updated_at = ?9, version = ?10, \
             source = ?12 \
             WHERE id = ?1 AND tenant_id = ?2 AND version = ?11",
        )
        .bind(user.id)
        .bind(user.tenant_id)
        .bind(&user.user_name)
        .bind(user.user_name.to_lowercase())
        .bind(&user.external_id)
        .bind(display_name_lower(&user.document))
        .bind(user.active)
        .bind(Value::Object(user.document.clone()).to_string())
        .bind(micros(user.updated_at))
        .bind(user.version)
        .bind(expected_version)
        .bind(user.source.as_str())
        .execute(&mut *tx)
        .await
        .map_err(user_conflict)?;
        if result.rows_affected() == 0 {
            return Err(
                missing_or_moved(&mut tx, "directory_users", user.tenant_id, user.id).await,
            );
        }
        write_emails(&mut tx, user).await?;
        finish_write(&mut tx, user.tenant_id, ctx, Vec::new(), 0, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn email_of_deleted_user(&self, tenant_id: Uuid, email: &str) -> Result<bool> {
        let found = sqlx::query(
            "SELECT 1 FROM deleted_user_emails WHERE tenant_id = ?1 AND email_lower = ?2",
        )
        .bind(tenant_id)
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // The addresses it had, remembered before the row (and its emails) go, so a
        // SAML sign-in cannot create the user again just in time.
        sqlx::query(
            "INSERT INTO deleted_user_emails (tenant_id, email_lower, deleted_at) \
             SELECT tenant_id, user_name_lower, ?3 FROM directory_users \
               WHERE id = ?1 AND tenant_id = ?2 AND instr(user_name_lower, '@') > 0 \
             UNION SELECT tenant_id, value_lower, ?3 FROM directory_user_emails WHERE user_id = ?1 \
             ON CONFLICT (tenant_id, email_lower) DO UPDATE SET deleted_at = excluded.deleted_at",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(micros(ctx.now))
        .execute(&mut *tx)
        .await?;
        let result = sqlx::query(
            "DELETE FROM directory_users WHERE id = ?1 AND tenant_id = ?2 AND (?3 IS NULL OR version = ?3)",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(missing_or_moved(&mut tx, "directory_users", tenant_id, id).await);
        }
        let mut events = Vec::new();
        remove_from_all_groups(&mut tx, id, &mut events).await?;
        finish_write(&mut tx, tenant_id, ctx, events, -1, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_users(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<Listing<DirectoryUser>> {
        list(self, Table::Users, tenant_id, request, user_from_row).await
    }

    async fn groups_of_users(&self, tenant_id: Uuid, user_ids: &[Uuid]) -> Result<Vec<UserGroup>> {
        let mut out = Vec::new();
        for chunk in user_ids.chunks(500) {
            let mut sql = Sql::new(Dialect::Sqlite);
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
            let Sql { text, binds, .. } = sql;
            let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), binds)
                .fetch_all(&self.pool)
                .await?;
            for row in rows {
                out.push(UserGroup {
                    user_id: uuid_of(&row, "member_id")?,
                    group_id: uuid_of(&row, "group_id")?,
                    display_name: row.try_get("display_name")?,
                });
            }
        }
        Ok(out)
    }

    async fn create_group(
        &self,
        group: &DirectoryGroup,
        members: &[MemberRef],
        ctx: &WriteContext,
    ) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO directory_groups (id, tenant_id, display_name, display_name_lower, external_id, \
             document, created_at, updated_at, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(group.id)
        .bind(group.tenant_id)
        .bind(&group.display_name)
        .bind(group.display_name.to_lowercase())
        .bind(&group.external_id)
        .bind(Value::Object(group.document.clone()).to_string())
        .bind(micros(group.created_at))
        .bind(micros(group.updated_at))
        .bind(group.version)
        .execute(&mut *tx)
        .await?;
        let mut events = Vec::new();
        add_members(&mut tx, group, members, &mut events).await?;
        finish_write(&mut tx, group.tenant_id, ctx, events, 0, 1).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn group_by_id(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<DirectoryGroup>> {
        sqlx::query("SELECT * FROM directory_groups WHERE id = ?1 AND tenant_id = ?2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(group_from_row)
            .transpose()
    }

    async fn group_members(
        &self,
        tenant_id: Uuid,
        group_ids: &[Uuid],
    ) -> Result<Vec<(Uuid, GroupMember)>> {
        let mut out = Vec::new();
        for group_id in group_ids {
            let rows = sqlx::query(
                "SELECT m.member_id, m.member_type, \
                   COALESCE(json_extract(u.document, '$.displayName'), u.user_name, g.display_name) AS display \
                 FROM directory_group_members m \
                 LEFT JOIN directory_users u ON m.member_type = 'User' AND u.id = m.member_id \
                 LEFT JOIN directory_groups g ON m.member_type = 'Group' AND g.id = m.member_id \
                 WHERE m.group_id = ?1 AND m.tenant_id = ?2 ORDER BY m.member_id",
            )
            .bind(group_id)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                let kind: String = row.try_get("member_type")?;
                out.push((
                    *group_id,
                    GroupMember {
                        id: uuid_of(&row, "member_id")?,
                        kind: if kind == "Group" {
                            MemberKind::Group
                        } else {
                            MemberKind::User
                        },
                        display: row.try_get("display")?,
                    },
                ));
            }
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let result = sqlx::query(
            "UPDATE directory_groups SET display_name = ?3, display_name_lower = ?4, external_id = ?5, \
             document = ?6, updated_at = ?7, version = ?8 WHERE id = ?1 AND tenant_id = ?2 AND version = ?9",
        )
        .bind(group.id)
        .bind(group.tenant_id)
        .bind(&group.display_name)
        .bind(group.display_name.to_lowercase())
        .bind(&group.external_id)
        .bind(Value::Object(group.document.clone()).to_string())
        .bind(micros(group.updated_at))
        .bind(group.version)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(
                missing_or_moved(&mut tx, "directory_groups", group.tenant_id, group.id).await,
            );
        }
        let mut events = Vec::new();
        apply_member_changes(&mut tx, group, changes, &mut events).await?;
        finish_write(&mut tx, group.tenant_id, ctx, events, 0, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_group(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        ctx: &WriteContext,
    ) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let result = sqlx::query(
            "DELETE FROM directory_groups WHERE id = ?1 AND tenant_id = ?2 AND (?3 IS NULL OR version = ?3)",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(missing_or_moved(&mut tx, "directory_groups", tenant_id, id).await);
        }
        let mut events = Vec::new();
        // Its own members went with it (ON DELETE CASCADE); it may itself be a member.
        remove_from_all_groups(&mut tx, id, &mut events).await?;
        finish_write(&mut tx, tenant_id, ctx, events, 0, -1).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_groups(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<Listing<DirectoryGroup>> {
        list(self, Table::Groups, tenant_id, request, group_from_row).await
    }

    async fn page_users(&self, tenant_id: Uuid, page: PageRequest) -> Result<Page<DirectoryUser>> {
        let rows = sqlx::query(
            "SELECT * FROM directory_users WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
        )
        .bind(tenant_id)
        .bind(page.after)
        .bind(i64::from(page.effective_limit()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |u| {
            u.id
        }))
    }

    async fn page_groups(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<DirectoryGroup>> {
        let rows = sqlx::query(
            "SELECT * FROM directory_groups WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
        )
        .bind(tenant_id)
        .bind(page.after)
        .bind(i64::from(page.effective_limit()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |g| {
            g.id
        }))
    }

    async fn list_events(
        &self,
        tenant_id: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DirectoryEvent>> {
        let rows = sqlx::query(
            "SELECT * FROM directory_events WHERE tenant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let data: String = row.try_get("data")?;
                Ok(DirectoryEvent {
                    seq: row.try_get("seq")?,
                    id: uuid_of(row, "id")?,
                    tenant_id: uuid_of(row, "tenant_id")?,
                    kind: event_kind(row.try_get("type")?)?,
                    resource_type: event_resource(row.try_get("resource_type")?)?,
                    resource_id: uuid_of(row, "resource_id")?,
                    occurred_at: from_micros(row.try_get("occurred_at")?)?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    async fn record_provisioning(&self, record: &ProvisioningRecord) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        insert_log(&mut conn, record).await
    }

    async fn list_provisioning_filtered(
        &self,
        tenant_id: Uuid,
        filter: &crate::ProvisioningFilter,
        page: PageRequest,
    ) -> Result<Page<ProvisioningRecord>> {
        let Sql { text, binds, .. } =
            crate::log_filter::provisioning_page_query(Dialect::Sqlite, tenant_id, filter, page);
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), binds)
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .iter()
            .map(|row| {
                let resource_id: Option<Uuid> = row.try_get("resource_id")?;
                let token_id: Option<Uuid> = row.try_get("token_id")?;
                Ok(ProvisioningRecord {
                    id: uuid_of(row, "id")?,
                    tenant_id: uuid_of(row, "tenant_id")?,
                    occurred_at: from_micros(row.try_get("occurred_at")?)?,
                    method: row.try_get("method")?,
                    path: row.try_get("path")?,
                    status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(0),
                    resource_type: row.try_get("resource_type")?,
                    resource_id,
                    reason: row.try_get("reason")?,
                    request_id: row.try_get("request_id")?,
                    token_id,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |r| {
            r.id
        }))
    }
}

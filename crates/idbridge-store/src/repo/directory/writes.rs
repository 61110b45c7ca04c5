//! The directory's writes, group-committed (`crate::group_commit`).
//!
//! An IdP pushing users and groups sends many writes at once (Entra ID and Okta
//! run their provisioning in parallel). One transaction per write made each write
//! pay its own `BEGIN` and `COMMIT`: on SQLite two more hand-offs to the single
//! writer's thread while it holds the file's write lock, and a WAL commit; on
//! PostgreSQL a commit to disk while the tenant's row (its feed counter) stays
//! locked. Here the writes waiting are run in one transaction, each as it would run
//! alone, in arrival order, and each caller is answered after the commit.
//!
//! A write is owned ([`DirectoryWrite`]): the group commit's task runs it after its
//! caller may have gone. Inside a batch, a write is either made, refused before it
//! wrote anything (a version that moved, a row that is gone: the transaction goes
//! on, the write's caller gets the refusal), or it fails in a way that may have left
//! part of it in the transaction (a name already taken, a member that is no user):
//! then the batch is rolled back and every write in it is run alone, so the failure
//! reaches its own caller only.

use async_trait::async_trait;
use sqlx::Pool;
use uuid::Uuid;

use super::rank_blocks::{self, Counted};
use super::{
    Finished, add_members, apply_member_changes, display_name_lower, finish_writes, insert_emails,
    missing_or_moved, remove_from_all_groups, user_conflict, write_emails,
};
use crate::db::{Db, JsonDocument, Query, Scalar, Ts, query, query_built, values_rows};
use crate::group_commit::BatchWriter;
use crate::scim_sql::Table;
use crate::{
    DirectoryGroup, DirectoryUser, MemberChange, MemberRef, NewEvent, Result, StoreError,
    WriteContext,
};

/// One write of the directory, as [`crate::DirectoryRepo`]'s methods describe them.
pub(crate) enum DirectoryWrite {
    CreateUser {
        user: DirectoryUser,
        ctx: WriteContext,
    },
    UpdateUser {
        user: DirectoryUser,
        expected_version: i64,
        emails_changed: bool,
        ctx: WriteContext,
    },
    DeleteUser {
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        ctx: WriteContext,
    },
    CreateGroup {
        group: DirectoryGroup,
        members: Vec<MemberRef>,
        ctx: WriteContext,
    },
    UpdateGroup {
        group: DirectoryGroup,
        expected_version: i64,
        changes: Vec<MemberChange>,
        ctx: WriteContext,
    },
    ChangeGroupMembers {
        group: DirectoryGroup,
        changes: Vec<MemberChange>,
        ctx: WriteContext,
    },
    DeleteGroup {
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        ctx: WriteContext,
    },
}

/// What a write's caller is told once the batch has committed: done (with the
/// group's new version, for a member change), or refused having written nothing.
pub(crate) type Answer = Result<Option<i64>>;

/// The writer of a batch: the writer pool, one transaction per batch.
pub(crate) struct DirectoryWrites<D: Db> {
    pub(crate) writer: Pool<D>,
}

#[async_trait]
impl<D: Db> BatchWriter for DirectoryWrites<D> {
    type Write = DirectoryWrite;
    type Answer = Answer;

    async fn write_together(&self, batch: &[&DirectoryWrite]) -> Result<Vec<Answer>> {
        let mut tx = self.writer.begin_with(D::BEGIN_WRITE).await?;
        let mut answers = Vec::with_capacity(batch.len());
        let mut finished = Vec::with_capacity(batch.len());
        let mut rest = batch;
        while let Some(write) = rest.first() {
            // Users created, or updated, one after another (an IdP's first push is
            // mostly creations, its later ones updates) go in together: a
            // statement for the run, not one or two per user. If one of them
            // cannot be written (a taken name), the batch is rolled back and each
            // is written alone (`group_commit`).
            let together = match write {
                DirectoryWrite::CreateUser { .. } => {
                    create_together::<D>(&mut tx, rest, &mut answers, &mut finished).await?
                }
                DirectoryWrite::UpdateUser { .. } if D::UPDATES_TOGETHER => {
                    update_together::<D>(&mut tx, rest, &mut answers, &mut finished).await?
                }
                _ => 0,
            };
            if together > 0 {
                rest = &rest[together..];
                continue;
            }
            answers.push(write.run::<D>(&mut tx, &mut finished).await?);
            rest = &rest[1..];
        }
        finish_writes::<D>(&mut tx, &finished).await?;
        // Last: every tenant's row is taken by now (`finish_writes`), so on
        // PostgreSQL the tenant's writers count their rows in turn.
        let counted: Vec<Counted> = finished.iter().filter_map(|f| f.counted).collect();
        rank_blocks::count::<D>(&mut tx, &counted).await?;
        tx.commit().await?;
        Ok(answers)
    }
}

/// Writes the run of creations at the head of `writes` together, if there are two
/// or more: how many it wrote (0: none, the first is written alone).
async fn create_together<'a, D: Db>(
    conn: &mut D::Connection,
    writes: &[&'a DirectoryWrite],
    answers: &mut Vec<Answer>,
    finished: &mut Vec<Finished<'a>>,
) -> Result<usize> {
    let run: Vec<(&'a DirectoryWrite, &'a DirectoryUser, &'a WriteContext)> = writes
        .iter()
        .map_while(|&write| match write {
            DirectoryWrite::CreateUser { user, ctx } => Some((write, user, ctx)),
            _ => None,
        })
        .collect();
    if run.len() < 2 {
        return Ok(0);
    }
    let users: Vec<&DirectoryUser> = run.iter().map(|(_, user, _)| *user).collect();
    insert_users::<D>(&mut *conn, &users).await?;
    insert_emails::<D>(&mut *conn, &users).await?;
    for (write, user, ctx) in run {
        finished.push(write.finished(user.tenant_id, ctx, Vec::new()));
        answers.push(Ok(None));
    }
    Ok(users.len())
}

/// Writes the run of updates of distinct users at the head of `writes` together,
/// if there are two or more: how many it answered (0: none, the first is written
/// alone). An update whose user moved on or is gone is refused, as alone.
async fn update_together<'a, D: Db>(
    conn: &mut D::Connection,
    writes: &[&'a DirectoryWrite],
    answers: &mut Vec<Answer>,
    finished: &mut Vec<Finished<'a>>,
) -> Result<usize> {
    // A user twice in one statement would be written once: a second update of a
    // user starts the next run, after the first is written.
    let mut seen = std::collections::HashSet::new();
    let run: Vec<(&'a DirectoryWrite, UserUpdate<'a>, bool, &'a WriteContext)> = writes
        .iter()
        .map_while(|&write| match write {
            DirectoryWrite::UpdateUser {
                user,
                expected_version,
                emails_changed,
                ctx,
            } if seen.insert(user.id) => Some((
                write,
                UserUpdate {
                    user,
                    expected_version: *expected_version,
                },
                *emails_changed,
                ctx,
            )),
            _ => None,
        })
        .collect();
    if run.len() < 2 {
        return Ok(0);
    }
    let updates: Vec<UserUpdate<'_>> = run.iter().map(|(_, update, _, _)| *update).collect();
    let written = update_users::<D>(&mut *conn, &updates).await?;
    for (write, UserUpdate { user, .. }, emails_changed, ctx) in &run {
        if !written.contains(&user.id) {
            answers.push(refused::<D>(&mut *conn, Table::Users, user.tenant_id, user.id).await?);
            continue;
        }
        // The version matched, so the stored email rows are those of the version
        // the caller read: unchanged addresses need no rewrite.
        if *emails_changed {
            write_emails::<D>(&mut *conn, user, true).await?;
        }
        finished.push(write.finished(user.tenant_id, ctx, Vec::new()));
        answers.push(Ok(None));
    }
    Ok(run.len())
}

impl DirectoryWrite {
    fn finished<'a>(
        &self,
        tenant_id: Uuid,
        ctx: &'a WriteContext,
        events: Vec<NewEvent>,
    ) -> Finished<'a> {
        Finished {
            tenant_id,
            ctx,
            events,
            counted: self.counted(),
        }
    }

    /// The row the write adds or removes, if it does (once it is done).
    fn counted(&self) -> Option<Counted> {
        match self {
            DirectoryWrite::CreateUser { user, .. } => {
                Some(Counted::added(Table::Users, user.tenant_id, user.id))
            }
            DirectoryWrite::DeleteUser { tenant_id, id, .. } => {
                Some(Counted::removed(Table::Users, *tenant_id, *id))
            }
            DirectoryWrite::CreateGroup { group, .. } => {
                Some(Counted::added(Table::Groups, group.tenant_id, group.id))
            }
            DirectoryWrite::DeleteGroup { tenant_id, id, .. } => {
                Some(Counted::removed(Table::Groups, *tenant_id, *id))
            }
            DirectoryWrite::UpdateUser { .. }
            | DirectoryWrite::UpdateGroup { .. }
            | DirectoryWrite::ChangeGroupMembers { .. } => None,
        }
    }

    /// Runs the write in the batch's transaction, leaving what ends it (its log
    /// line, events, count) in `finished` for the end of the batch. `Err`: the
    /// transaction may hold part of it and must be rolled back; `Ok(Err(_))`:
    /// refused before anything was written, and the transaction goes on.
    async fn run<'a, D: Db>(
        &'a self,
        conn: &mut D::Connection,
        finished: &mut Vec<Finished<'a>>,
    ) -> Result<Answer> {
        match self {
            DirectoryWrite::CreateUser { user, ctx } => {
                insert_users::<D>(&mut *conn, &[user]).await?;
                // A new user has no rows to replace.
                insert_emails::<D>(&mut *conn, &[user]).await?;
                finished.push(self.finished(user.tenant_id, ctx, Vec::new()));
                Ok(Ok(None))
            }
            DirectoryWrite::UpdateUser {
                user,
                expected_version,
                emails_changed,
                ctx,
            } => {
                if !update_user::<D>(&mut *conn, user, *expected_version).await? {
                    return refused::<D>(conn, Table::Users, user.tenant_id, user.id).await;
                }
                // The version matched, so the stored email rows are those of the
                // version the caller read: unchanged addresses need no rewrite.
                if *emails_changed {
                    write_emails::<D>(&mut *conn, user, true).await?;
                }
                finished.push(self.finished(user.tenant_id, ctx, Vec::new()));
                Ok(Ok(None))
            }
            DirectoryWrite::DeleteUser {
                tenant_id,
                id,
                expected_version,
                ctx,
            } => {
                remember_addresses::<D>(&mut *conn, *tenant_id, *id, ctx).await?;
                // The addresses above are written already: a refusal here is not
                // clean, and the batch is rolled back.
                if !delete_row::<D>(&mut *conn, Table::Users, *tenant_id, *id, *expected_version)
                    .await?
                {
                    return Err(missing_or_moved::<D>(conn, Table::Users, *tenant_id, *id).await?);
                }
                let mut events = Vec::new();
                remove_from_all_groups::<D>(&mut *conn, *id, &mut events).await?;
                finished.push(self.finished(*tenant_id, ctx, events));
                Ok(Ok(None))
            }
            DirectoryWrite::CreateGroup {
                group,
                members,
                ctx,
            } => {
                insert_group::<D>(&mut *conn, group).await?;
                let mut events = Vec::new();
                add_members::<D>(&mut *conn, group, members, &mut events).await?;
                finished.push(self.finished(group.tenant_id, ctx, events));
                Ok(Ok(None))
            }
            DirectoryWrite::UpdateGroup {
                group,
                expected_version,
                changes,
                ctx,
            } => {
                if !update_group::<D>(&mut *conn, group, *expected_version).await? {
                    return refused::<D>(conn, Table::Groups, group.tenant_id, group.id).await;
                }
                let mut events = Vec::new();
                apply_member_changes::<D>(&mut *conn, group, changes, &mut events).await?;
                finished.push(self.finished(group.tenant_id, ctx, events));
                Ok(Ok(None))
            }
            DirectoryWrite::ChangeGroupMembers {
                group,
                changes,
                ctx,
            } => {
                // The row lock this takes orders concurrent changes to one group
                // (PostgreSQL; SQLite has one writer), and the member statements after
                // it read what the writes before it committed: applied one after
                // another, none is lost.
                let version: Option<Scalar<i64>> = query::<D>(
                    "UPDATE directory_groups SET version = version + 1, updated_at = $3 \
                     WHERE id = $1 AND tenant_id = $2 RETURNING version",
                )
                .bind(group.id)
                .bind(group.tenant_id)
                .bind(Ts(ctx.now))
                .fetch_optional(&mut *conn)
                .await?;
                let Some(Scalar(version)) = version else {
                    return Ok(Err(StoreError::NotFound));
                };
                let mut events = Vec::new();
                apply_member_changes::<D>(&mut *conn, group, changes, &mut events).await?;
                finished.push(self.finished(group.tenant_id, ctx, events));
                Ok(Ok(Some(version)))
            }
            DirectoryWrite::DeleteGroup {
                tenant_id,
                id,
                expected_version,
                ctx,
            } => {
                if !delete_row::<D>(
                    &mut *conn,
                    Table::Groups,
                    *tenant_id,
                    *id,
                    *expected_version,
                )
                .await?
                {
                    return refused::<D>(conn, Table::Groups, *tenant_id, *id).await;
                }
                let mut events = Vec::new();
                // Its own members went with it (ON DELETE CASCADE); it may itself be
                // a member.
                remove_from_all_groups::<D>(&mut *conn, *id, &mut events).await?;
                finished.push(self.finished(*tenant_id, ctx, events));
                Ok(Ok(None))
            }
        }
    }
}

/// A clean refusal of an update or delete that changed nothing: the row is gone, or
/// its version moved.
async fn refused<D: Db>(
    conn: &mut D::Connection,
    table: Table,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Answer> {
    Ok(Err(missing_or_moved::<D>(conn, table, tenant_id, id).await?))
}

/// The most users one `INSERT` carries ([`USER_COLUMNS`] values each).
const USERS_PER_INSERT: usize = 64;
const USER_COLUMNS: usize = 12;

/// Inserts new users' rows, many to a statement.
async fn insert_users<D: Db>(conn: &mut D::Connection, users: &[&DirectoryUser]) -> Result<()> {
    for users in users.chunks(USERS_PER_INSERT) {
        let mut text = String::from(
            "INSERT INTO directory_users (id, tenant_id, user_name, user_name_lower, external_id, \
             display_name_lower, active, document, source, created_at, updated_at, version) \
             VALUES ",
        );
        values_rows(&mut text, 1, users.len(), USER_COLUMNS);
        users
            .iter()
            .fold(query_built::<D>(text), |insert, user| {
                bind_user_row(insert, user)
                    .bind(user.source.as_str())
                    .bind(Ts(user.created_at))
                    .bind(Ts(user.updated_at))
                    .bind(user.version)
            })
            .execute(&mut *conn)
            .await
            .map_err(user_conflict)?;
    }
    Ok(())
}

/// Binds the first values of a user's row, in the order of every statement here
/// that writes one: id, tenant, userName (as given and lowered), externalId,
/// lowered displayName, active, document.
fn bind_user_row<D: Db>(query: Query<D>, user: &DirectoryUser) -> Query<D> {
    query
        .bind(user.id)
        .bind(user.tenant_id)
        .bind(&user.user_name)
        .bind(user.user_name.to_lowercase())
        .bind(&user.external_id)
        .bind(display_name_lower(&user.document))
        .bind(user.active)
        .bind(JsonDocument(&user.document))
}

/// Binds an update's twelve values: [`bind_user_row`]'s, then the update's time,
/// the new version, the version expected, the source.
fn bind_update<D: Db>(query: Query<D>, user: &DirectoryUser, expected_version: i64) -> Query<D> {
    bind_user_row(query, user)
        .bind(Ts(user.updated_at))
        .bind(user.version)
        .bind(expected_version)
        .bind(user.source.as_str())
}

/// Whether the user was at `expected_version` (and is now written): one user, in
/// the plain statement both databases run fastest.
async fn update_user<D: Db>(
    conn: &mut D::Connection,
    user: &DirectoryUser,
    expected_version: i64,
) -> Result<bool> {
    let updated = bind_update(
        query::<D>(
            "UPDATE directory_users SET user_name = $3, user_name_lower = $4, external_id = $5, \
         display_name_lower = $6, active = $7, document = $8, updated_at = $9, version = $10, \
         source = $12 \
         WHERE id = $1 AND tenant_id = $2 AND version = $11",
        ),
        user,
        expected_version,
    )
    .execute(conn)
    .await
    .map_err(user_conflict)?;
    Ok(updated > 0)
}

/// A user's new row, written if the stored one is still at `expected_version`.
#[derive(Clone, Copy)]
struct UserUpdate<'a> {
    user: &'a DirectoryUser,
    expected_version: i64,
}

/// The most users one `UPDATE` carries ([`USER_COLUMNS`] values each, the
/// expected version in place of the creation time).
const USERS_PER_UPDATE: usize = 64;

/// Writes each user still at its expected version, many to a statement: the ids of
/// those written. The users are distinct (a row matched twice would be written
/// once).
async fn update_users<D: Db>(
    conn: &mut D::Connection,
    updates: &[UserUpdate<'_>],
) -> Result<std::collections::HashSet<Uuid>> {
    let mut written = std::collections::HashSet::with_capacity(updates.len());
    for updates in updates.chunks(USERS_PER_UPDATE) {
        let mut text = String::from(
            "WITH v (id, tenant_id, user_name, user_name_lower, external_id, \
             display_name_lower, active, document, updated_at, version, expected, source) \
             AS (VALUES ",
        );
        values_rows(&mut text, 1, updates.len(), USER_COLUMNS);
        text.push_str(
            ") UPDATE directory_users SET user_name = v.user_name, \
             user_name_lower = v.user_name_lower, external_id = v.external_id, \
             display_name_lower = v.display_name_lower, active = v.active, \
             document = v.document, updated_at = v.updated_at, version = v.version, \
             source = v.source FROM v WHERE directory_users.id = v.id \
             AND directory_users.tenant_id = v.tenant_id \
             AND directory_users.version = v.expected RETURNING directory_users.id",
        );
        let ids: Vec<Scalar<Uuid>> = updates
            .iter()
            .fold(query_built::<D>(text), |update, u| {
                bind_update(update, u.user, u.expected_version)
            })
            .fetch_all(&mut *conn)
            .await
            .map_err(user_conflict)?;
        written.extend(ids.into_iter().map(|Scalar(id)| id));
    }
    Ok(written)
}

/// The addresses a user being deleted had, remembered before the row (and its
/// emails) go, so a SAML sign-in cannot create the user again just in time.
async fn remember_addresses<D: Db>(
    conn: &mut D::Connection,
    tenant_id: Uuid,
    id: Uuid,
    ctx: &WriteContext,
) -> Result<()> {
    query::<D>(
        "INSERT INTO deleted_user_emails (tenant_id, email_lower, deleted_at) \
         SELECT tenant_id, user_name_lower, $3 FROM directory_users \
           WHERE id = $1 AND tenant_id = $2 AND user_name_lower LIKE '%@%' \
         UNION SELECT tenant_id, value_lower, $3 FROM directory_user_emails WHERE user_id = $1 \
         ON CONFLICT (tenant_id, email_lower) DO UPDATE SET deleted_at = excluded.deleted_at",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(Ts(ctx.now))
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_group<D: Db>(conn: &mut D::Connection, group: &DirectoryGroup) -> Result<()> {
    query::<D>(
        "INSERT INTO directory_groups (id, tenant_id, display_name, display_name_lower, name_key, \
         external_id, document, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
    )
    .bind(group.id)
    .bind(group.tenant_id)
    .bind(&group.display_name)
    .bind(group.display_name.to_lowercase())
    .bind(&group.external_id)
    .bind(JsonDocument(&group.document))
    .bind(Ts(group.created_at))
    .bind(Ts(group.updated_at))
    .bind(group.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the group was at `expected_version` (and is now written).
async fn update_group<D: Db>(
    conn: &mut D::Connection,
    group: &DirectoryGroup,
    expected_version: i64,
) -> Result<bool> {
    let updated = query::<D>(
        // A group whose name was shared before names were unique keeps its NULL
        // key until it is renamed (migration 0024).
        "UPDATE directory_groups SET display_name = $3, display_name_lower = $4, \
         name_key = CASE WHEN display_name_lower = $4 THEN name_key ELSE $4 END, external_id = $5, \
         document = $6, updated_at = $7, version = $8 WHERE id = $1 AND tenant_id = $2 AND version = $9",
    )
    .bind(group.id)
    .bind(group.tenant_id)
    .bind(&group.display_name)
    .bind(group.display_name.to_lowercase())
    .bind(&group.external_id)
    .bind(JsonDocument(&group.document))
    .bind(Ts(group.updated_at))
    .bind(group.version)
    .bind(expected_version)
    .execute(conn)
    .await?;
    Ok(updated > 0)
}

/// Whether a user or group at `expected_version` (any, if `None`) was deleted.
async fn delete_row<D: Db>(
    conn: &mut D::Connection,
    table: Table,
    tenant_id: Uuid,
    id: Uuid,
    expected_version: Option<i64>,
) -> Result<bool> {
    let sql = match table {
        Table::Users => {
            "DELETE FROM directory_users WHERE id = $1 AND tenant_id = $2 AND ($3 IS NULL OR version = $3)"
        }
        Table::Groups => {
            "DELETE FROM directory_groups WHERE id = $1 AND tenant_id = $2 AND ($3 IS NULL OR version = $3)"
        }
    };
    let deleted = query::<D>(sql)
        .bind(id)
        .bind(tenant_id)
        .bind(expected_version)
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}

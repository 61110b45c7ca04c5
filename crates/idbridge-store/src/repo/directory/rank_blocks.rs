//! Where position N of a tenant's users (or groups), in id order, lies, without
//! stepping over the N before it.
//!
//! A SCIM page asked out of the blue (`startIndex=500001`, no filter, no sort) is
//! position N of the list in id order. `OFFSET` finds it by stepping over N index
//! entries: 100 ms and more at a million users. Here each tenant's rows are cut
//! into blocks of consecutive ids, and a row of `directory_rank_blocks` holds each
//! block's first id and how many rows it holds (the first block starts at the nil
//! id, so every id falls in one). Position N is then found by adding up the counts
//! of the blocks before it (a few hundred small rows at a million users) and
//! stepping over fewer than `2 × BLOCK_ROWS` rows inside its block: the counted
//! inner nodes of an order-statistic tree, one level deep.
//!
//! The counts are written in the transaction that adds or removes the row, after
//! the tenant's row is taken (`finish_writes`): on PostgreSQL that lock orders the
//! tenant's writers, so each sees the blocks as the one before left them, splits
//! included. A block that grows past `2 × BLOCK_ROWS` splits in two; one that
//! empties goes (unless it is the first). The reader trusts the blocks only when
//! their counts add up to the tenant's maintained count, and falls back to
//! `OFFSET` otherwise.

use uuid::Uuid;

use crate::Result;
use crate::db::{Db, FromRow, Row, Scalar, query, query_assembled};
use crate::scim_sql::{Bind, Sql, Table};

/// Rows a block is cut to when it splits; a block holds up to twice as many.
pub(crate) const BLOCK_ROWS: i64 = if cfg!(test) { 4 } else { 1000 };

/// A row of a tenant's users or groups that a write added or removed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counted {
    pub table: Table,
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub change: CountChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountChange {
    Added,
    Removed,
}

impl Counted {
    pub(crate) fn added(table: Table, tenant_id: Uuid, id: Uuid) -> Self {
        Self {
            table,
            tenant_id,
            id,
            change: CountChange::Added,
        }
    }

    pub(crate) fn removed(table: Table, tenant_id: Uuid, id: Uuid) -> Self {
        Self {
            table,
            tenant_id,
            id,
            change: CountChange::Removed,
        }
    }

    /// What the write adds to the tenant's count of users and of groups.
    pub(crate) fn deltas(counted: Option<Self>) -> (i64, i64) {
        let Some(counted) = counted else {
            return (0, 0);
        };
        let delta = match counted.change {
            CountChange::Added => 1,
            CountChange::Removed => -1,
        };
        match counted.table {
            Table::Users => (delta, 0),
            Table::Groups => (0, delta),
        }
    }
}

/// The name a block row gives its table.
fn resource(table: Table) -> &'static str {
    match table {
        Table::Users => "users",
        Table::Groups => "groups",
    }
}

/// The block an id (`$3`) falls in: the one with the greatest first id not above it.
macro_rules! block_of {
    () => {
        "(SELECT first_id FROM directory_rank_blocks \
         WHERE tenant_id = $1 AND resource = $2 AND first_id <= $3 ORDER BY first_id DESC LIMIT 1)"
    };
}

struct Block {
    first_id: Uuid,
    n_rows: i64,
}

impl FromRow for Block {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(Self {
            first_id: row.get("first_id")?,
            n_rows: row.get("n_rows")?,
        })
    }
}

/// Counts a batch's rows in their blocks, splitting blocks that grow past
/// `2 × BLOCK_ROWS` and dropping those that empty. Runs last in the batch's
/// transaction, after its rows are written and its tenants' rows taken.
pub(crate) async fn count<D: Db>(conn: &mut D::Connection, counted: &[Counted]) -> Result<()> {
    // The rows added to one tenant's table, in one statement: each id's block,
    // then one upsert per block.
    let mut added: Vec<&Counted> = counted
        .iter()
        .filter(|c| c.change == CountChange::Added)
        .collect();
    added.sort_by_key(|c| (c.tenant_id, resource(c.table)));
    for group in added.chunk_by(|a, b| a.tenant_id == b.tenant_id && a.table == b.table) {
        let (tenant_id, table) = (group[0].tenant_id, group[0].table);
        let mut sql = Sql::new(D::DIALECT);
        sql.push("WITH added(id) AS (VALUES ");
        for (i, c) in group.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(").bind(Bind::Uuid(c.id)).push(")");
        }
        sql.push(
            ") INSERT INTO directory_rank_blocks (tenant_id, resource, first_id, n_rows) \
             SELECT tenant_id, resource, first_id, count(*) FROM (SELECT ",
        )
        .bind(Bind::Uuid(tenant_id))
        .push(" AS tenant_id, ")
        .bind(Bind::Text(resource(table).to_owned()))
        .push(
            " AS resource, COALESCE((SELECT b.first_id FROM directory_rank_blocks b \
             WHERE b.tenant_id = ",
        )
        .bind(Bind::Uuid(tenant_id))
        .push(" AND b.resource = ")
        .bind(Bind::Text(resource(table).to_owned()))
        .push(" AND b.first_id <= added.id ORDER BY b.first_id DESC LIMIT 1), ")
        .bind(Bind::Uuid(Uuid::nil()))
        .push(
            // The tenant's first row makes its first block. (`WHERE true`: SQLite
            // reads the `ON` that follows as an upsert only after one.)
            ") AS first_id FROM added) placed WHERE true GROUP BY tenant_id, resource, first_id \
             ON CONFLICT (tenant_id, resource, first_id) \
             DO UPDATE SET n_rows = directory_rank_blocks.n_rows + excluded.n_rows \
             RETURNING first_id, n_rows",
        );
        let blocks: Vec<Block> = query_assembled::<D>(sql).fetch_all(&mut *conn).await?;
        for mut block in blocks {
            // A batch may add more than a block holds: cut until each part fits.
            while block.n_rows > 2 * BLOCK_ROWS {
                block = split::<D>(conn, tenant_id, table, block).await?;
            }
        }
    }
    for c in counted.iter().filter(|c| c.change == CountChange::Removed) {
        let resource = resource(c.table);
        let block: Option<Block> = query::<D>(concat!(
            "UPDATE directory_rank_blocks SET n_rows = n_rows - 1 \
             WHERE tenant_id = $1 AND resource = $2 AND first_id = ",
            block_of!(),
            " RETURNING first_id, n_rows"
        ))
        .bind(c.tenant_id)
        .bind(resource)
        .bind(c.id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(block) = block
            && block.n_rows <= 0
            && !block.first_id.is_nil()
        {
            query::<D>(
                "DELETE FROM directory_rank_blocks \
                 WHERE tenant_id = $1 AND resource = $2 AND first_id = $3",
            )
            .bind(c.tenant_id)
            .bind(resource)
            .bind(block.first_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Cuts a block that holds more than `2 × BLOCK_ROWS` rows after its first
/// `BLOCK_ROWS`: the row at that position starts the second part, returned.
async fn split<D: Db>(
    conn: &mut D::Connection,
    tenant_id: Uuid,
    table: Table,
    block: Block,
) -> Result<Block> {
    let sql = match table {
        Table::Users => {
            "SELECT id FROM directory_users WHERE tenant_id = $1 AND id >= $2 \
             ORDER BY id LIMIT 1 OFFSET $3"
        }
        Table::Groups => {
            "SELECT id FROM directory_groups WHERE tenant_id = $1 AND id >= $2 \
             ORDER BY id LIMIT 1 OFFSET $3"
        }
    };
    let Scalar(middle): Scalar<Uuid> = query::<D>(sql)
        .bind(tenant_id)
        .bind(block.first_id)
        .bind(BLOCK_ROWS)
        .fetch_one(&mut *conn)
        .await?;
    query::<D>(
        "INSERT INTO directory_rank_blocks (tenant_id, resource, first_id, n_rows) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant_id)
    .bind(resource(table))
    .bind(middle)
    .bind(block.n_rows - BLOCK_ROWS)
    .execute(&mut *conn)
    .await?;
    query::<D>(
        "UPDATE directory_rank_blocks SET n_rows = $4 \
         WHERE tenant_id = $1 AND resource = $2 AND first_id = $3",
    )
    .bind(tenant_id)
    .bind(resource(table))
    .bind(block.first_id)
    .bind(BLOCK_ROWS)
    .execute(&mut *conn)
    .await?;
    Ok(Block {
        first_id: middle,
        n_rows: block.n_rows - BLOCK_ROWS,
    })
}

/// Where the row `skip` rows into the tenant's list lies: the first id of its
/// block and how many rows of the block come before it. `None` when the blocks'
/// counts do not add up to `total` (the caller then counts with `OFFSET`) or the
/// position is past the end.
pub(crate) async fn locate<D: Db>(
    conn: &mut D::Connection,
    tenant_id: Uuid,
    table: Table,
    skip: i64,
    total: i64,
) -> Result<Option<(Uuid, i64)>> {
    let blocks: Vec<Block> = query::<D>(
        "SELECT first_id, n_rows FROM directory_rank_blocks \
         WHERE tenant_id = $1 AND resource = $2 ORDER BY first_id",
    )
    .bind(tenant_id)
    .bind(resource(table))
    .fetch_all(&mut *conn)
    .await?;
    if blocks.iter().map(|b| b.n_rows).sum::<i64>() != total {
        return Ok(None);
    }
    Ok(position(&blocks, skip))
}

fn position(blocks: &[Block], skip: i64) -> Option<(Uuid, i64)> {
    let mut before = 0;
    for block in blocks {
        if skip < before + block.n_rows {
            return Some((block.first_id, skip - before));
        }
        before += block.n_rows;
    }
    None
}

#[cfg(test)]
mod tests {
    //! With blocks of 4 rows (split past 8), against the list as `OFFSET` reads it:
    //! rows added out of id order (into the middle of blocks), removed one by one
    //! and a whole block at a time, on both backends.

    use std::sync::Arc;

    use idbridge_core::TenantSlug;
    use idbridge_core::roles::RolePolicy;
    use idbridge_scim::query::ListRequest;
    use idbridge_testkit::{TestDb, both_backends};
    use serde_json::{Map, Value, json};
    use time::OffsetDateTime;
    use uuid::Uuid;

    use crate::{
        DatabaseUrl, DirectoryGroup, DirectoryUser, PoolSettings, Store, Tenant, UserSource,
        WriteContext,
    };

    const T0: OffsetDateTime = time::macros::datetime!(2026-12-06 12:00 UTC);

    /// A fresh handle on the database: no page anchors left by an earlier read.
    async fn open(db: &TestDb) -> Arc<dyn Store> {
        let url = DatabaseUrl::parse(db.url()).expect("url");
        let store = crate::connect(&url, &PoolSettings::default()).expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    fn quiet() -> WriteContext {
        WriteContext {
            now: T0,
            events: Vec::new(),
            log: None,
            audit: None,
            mail: None,
        }
    }

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn user(tenant_id: Uuid, id: Uuid, n: usize) -> DirectoryUser {
        let name = format!("u{n}@acme.example");
        DirectoryUser {
            id,
            tenant_id,
            user_name: name.clone(),
            external_id: None,
            active: true,
            document: doc(json!({ "userName": name })),
            source: UserSource::Scim,
            created_at: T0,
            updated_at: T0,
            version: 1,
        }
    }

    /// `n` ids in ascending order, handed out in a scrambled order.
    fn scrambled_ids(n: usize) -> (Vec<Uuid>, Vec<Uuid>) {
        let mut sorted: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        sorted.sort();
        // 37 is prime to every n used here: i ↦ 37·i mod n visits each index once.
        let scrambled = (0..n).map(|i| sorted[(i * 37) % n]).collect();
        (sorted, scrambled)
    }

    /// Every page of every start (last first, so no page leaves an anchor a later
    /// one finds) and a few sizes equals the slice of `expected` it names.
    async fn pages_match(db: &TestDb, tenant_id: Uuid, groups: bool, expected: &[Uuid]) {
        let store = open(db).await;
        for start in (1..=expected.len() + 2).rev() {
            for count in [1, 3, 10] {
                let request = ListRequest {
                    filter: None,
                    sort: None,
                    start_index: start,
                    count,
                };
                let (total, ids): (u64, Vec<Uuid>) = if groups {
                    let listing = store
                        .list_groups(tenant_id, &request)
                        .await
                        .expect("groups");
                    (listing.total, listing.items.iter().map(|g| g.id).collect())
                } else {
                    let listing = store.list_users(tenant_id, &request).await.expect("users");
                    (listing.total, listing.items.iter().map(|u| u.id).collect())
                };
                let from = (start - 1).min(expected.len());
                let to = (from + count).min(expected.len());
                assert_eq!(total, expected.len() as u64);
                assert_eq!(ids, expected[from..to], "start {start} count {count}");
            }
        }
    }

    async fn blocks(db: &TestDb, tenant_id: Uuid, resource: &str) -> Vec<(Uuid, i64)> {
        let sql = "SELECT first_id, n_rows FROM directory_rank_blocks \
                   WHERE tenant_id = $1 AND resource = $2 ORDER BY first_id";
        if db.backend() == "sqlite" {
            let pool = sqlx::SqlitePool::connect(db.url()).await.expect("pool");
            sqlx::query_as(sql)
                .bind(tenant_id)
                .bind(resource)
                .fetch_all(&pool)
                .await
                .expect("blocks")
        } else {
            let pool = sqlx::PgPool::connect(db.url()).await.expect("pool");
            sqlx::query_as(sql)
                .bind(tenant_id)
                .bind(resource)
                .fetch_all(&pool)
                .await
                .expect("blocks")
        }
    }

    /// The blocks' shape: the first at the nil id, none empty after it, none past
    /// twice the size, and counts that add up.
    async fn well_formed(db: &TestDb, tenant_id: Uuid, resource: &str, rows: usize) -> usize {
        let blocks = blocks(db, tenant_id, resource).await;
        assert_eq!(blocks.first().map(|b| b.0), Some(Uuid::nil()), "{blocks:?}");
        assert!(blocks.iter().skip(1).all(|b| b.1 > 0), "{blocks:?}");
        assert!(
            blocks.iter().all(|b| b.1 <= 2 * super::BLOCK_ROWS),
            "{blocks:?}"
        );
        assert_eq!(blocks.iter().map(|b| b.1).sum::<i64>(), rows as i64);
        blocks.len()
    }

    /// Runs a statement as it stands, with the tenant bound to `$1` if given.
    async fn execute(db: &TestDb, sql: &str, tenant_id: Option<Uuid>) {
        if db.backend() == "sqlite" {
            let pool = sqlx::SqlitePool::connect(db.url()).await.expect("pool");
            let query = sqlx::query(sqlx::AssertSqlSafe(sql));
            match tenant_id {
                Some(id) => query.bind(id).execute(&pool).await,
                None => query.execute(&pool).await,
            }
            .expect(sql);
        } else {
            let pool = sqlx::PgPool::connect(db.url()).await.expect("pool");
            let query = sqlx::query(sqlx::AssertSqlSafe(sql));
            match tenant_id {
                Some(id) => query.bind(id).execute(&pool).await,
                None => query.execute(&pool).await,
            }
            .expect(sql);
        }
    }

    fn a_tenant(slug: &str) -> Tenant {
        Tenant {
            id: Uuid::now_v7(),
            slug: TenantSlug::parse(slug).expect("slug"),
            name: slug.into(),
            sso_required: false,
            jit_enabled: true,
            require_verified_domains: false,
            invite_new_users: false,
            default_role: None,
            role_policy: RolePolicy::Highest,
            created_at: T0,
            updated_at: T0,
        }
    }

    both_backends! {
        async fn deep_pages_from_counted_blocks_are_the_pages_offset_reads(db: TestDb) {
            let store = open(&db).await;
            let acme = a_tenant("acme");
            // A second tenant whose users are written in the same batches.
            let globex = a_tenant("globex");
            store.create_tenant(&globex, None).await.expect("tenant");
            store.create_tenant(&acme, None).await.expect("tenant");

            // Users added out of order: each lands inside a block, and blocks split.
            // Twenty at a time, so that the group commit counts several in a batch.
            let (mut sorted, scrambled) = scrambled_ids(61);
            let (theirs, their_scrambled) = scrambled_ids(13);
            let mut users: Vec<DirectoryUser> =
                scrambled.iter().enumerate().map(|(n, id)| user(acme.id, *id, n)).collect();
            for (n, id) in their_scrambled.iter().enumerate() {
                users.insert(n * 4, user(globex.id, *id, n));
            }
            for chunk in users.chunks(20) {
                let ctx = quiet();
                let writes = chunk.iter().map(|u| store.create_user(u, &ctx));
                for written in futures::future::join_all(writes).await {
                    written.expect("user");
                }
            }
            assert!(well_formed(&db, acme.id, "users", 61).await >= 61 / 8);
            pages_match(&db, acme.id, false, &sorted).await;
            well_formed(&db, globex.id, "users", 13).await;
            pages_match(&db, globex.id, false, &theirs).await;

            // Every seventh removed, then a run of ten in a row (whole blocks empty).
            let mut gone: Vec<Uuid> = sorted.iter().step_by(7).copied().chain(sorted[20..30].iter().copied()).collect();
            gone.sort();
            gone.dedup();
            for id in &gone {
                store.delete_user(acme.id, *id, None, &quiet()).await.expect("delete");
            }
            sorted.retain(|id| !gone.contains(id));
            well_formed(&db, acme.id, "users", sorted.len()).await;
            pages_match(&db, acme.id, false, &sorted).await;

            // Added again at both ends and in the middle.
            let before_all = Uuid::from_u128(1);
            let after_all = Uuid::max();
            let middle = Uuid::from_u128((sorted[10].as_u128() / 2) + (sorted[11].as_u128() / 2));
            for (n, id) in [before_all, after_all, middle].into_iter().enumerate() {
                store.create_user(&user(acme.id, id, 100 + n), &quiet()).await.expect("user");
                sorted.push(id);
            }
            sorted.sort();
            well_formed(&db, acme.id, "users", sorted.len()).await;
            pages_match(&db, acme.id, false, &sorted).await;

            // Groups are counted the same way.
            let (groups, scrambled) = scrambled_ids(23);
            for (n, id) in scrambled.iter().enumerate() {
                let group = DirectoryGroup {
                    id: *id,
                    tenant_id: acme.id,
                    display_name: format!("g{n}"),
                    external_id: None,
                    document: doc(json!({ "displayName": format!("g{n}") })),
                    created_at: T0,
                    updated_at: T0,
                    version: 1,
                };
                store.create_group(&group, &[], &quiet()).await.expect("group");
            }
            well_formed(&db, acme.id, "groups", 23).await;
            pages_match(&db, acme.id, true, &groups).await;

            // Blocks that disagree with the tenant's count are not used: the pages
            // are still right (read with OFFSET).
            execute(&db, "UPDATE directory_rank_blocks SET n_rows = n_rows + 1 \
                           WHERE tenant_id = $1 AND resource = 'users'", Some(acme.id)).await;
            pages_match(&db, acme.id, false, &sorted).await;
            pages_match(&db, globex.id, false, &theirs).await;

            // Blocks made by the migration from rows already there (blocks of 1,000
            // rows, more than this build's, which only caps what writes split).
            execute(&db, "DELETE FROM directory_rank_blocks", None).await;
            let migration = if db.backend() == "sqlite" {
                include_str!("../../../migrations/sqlite/0033_rank_blocks.sql")
            } else {
                include_str!("../../../migrations/postgres/0033_rank_blocks.sql")
            };
            for statement in migration.split(';').filter(|s| s.contains("INSERT")) {
                execute(&db, statement, None).await;
            }
            assert_eq!(blocks(&db, acme.id, "users").await, vec![(Uuid::nil(), sorted.len() as i64)]);
            assert_eq!(blocks(&db, globex.id, "users").await, vec![(Uuid::nil(), 13)]);
            pages_match(&db, globex.id, false, &theirs).await;
            pages_match(&db, acme.id, false, &sorted).await;
            pages_match(&db, acme.id, true, &groups).await;

            // They go with the tenant.
            store.delete_tenant(&acme.slug, None).await.expect("delete tenant");
            assert!(blocks(&db, acme.id, "users").await.is_empty());
            assert_eq!(blocks(&db, globex.id, "users").await.len(), 1);
        }
    }

    #[test]
    fn a_position_falls_in_the_block_whose_counts_reach_past_it() {
        let (a, b, c) = (Uuid::nil(), Uuid::from_u128(5), Uuid::from_u128(9));
        let blocks = [
            super::Block {
                first_id: a,
                n_rows: 3,
            },
            super::Block {
                first_id: b,
                n_rows: 0,
            },
            super::Block {
                first_id: c,
                n_rows: 2,
            },
        ];
        assert_eq!(super::position(&blocks, 0), Some((a, 0)));
        assert_eq!(super::position(&blocks, 2), Some((a, 2)));
        assert_eq!(super::position(&blocks, 3), Some((c, 0)));
        assert_eq!(super::position(&blocks, 4), Some((c, 1)));
        assert_eq!(super::position(&blocks, 5), None);
    }
}

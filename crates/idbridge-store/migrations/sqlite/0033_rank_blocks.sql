-- Counted blocks of each tenant's users and groups in id order. See the PostgreSQL
-- migration of the same number for the design.
CREATE TABLE directory_rank_blocks (
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    resource   TEXT NOT NULL CHECK (resource IN ('users', 'groups')),
    first_id   BLOB NOT NULL CHECK (length(first_id) = 16),
    n_rows     INTEGER NOT NULL CHECK (n_rows >= 0),
    PRIMARY KEY (tenant_id, resource, first_id)
) STRICT, WITHOUT ROWID;

INSERT INTO directory_rank_blocks (tenant_id, resource, first_id, n_rows)
SELECT tenant_id, 'users', CASE WHEN block = 0 THEN zeroblob(16) ELSE min(id) END, count(*)
FROM (SELECT tenant_id, id, (row_number() OVER (PARTITION BY tenant_id ORDER BY id) - 1) / 1000 AS block
      FROM directory_users)
GROUP BY tenant_id, block;

INSERT INTO directory_rank_blocks (tenant_id, resource, first_id, n_rows)
SELECT tenant_id, 'groups', CASE WHEN block = 0 THEN zeroblob(16) ELSE min(id) END, count(*)
FROM (SELECT tenant_id, id, (row_number() OVER (PARTITION BY tenant_id ORDER BY id) - 1) / 1000 AS block
      FROM directory_groups)
GROUP BY tenant_id, block;

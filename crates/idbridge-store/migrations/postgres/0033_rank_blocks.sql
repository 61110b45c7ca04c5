-- Counted blocks of each tenant's users and groups in id order, so a SCIM page deep
-- in an unfiltered list (`startIndex=500001`) is found without stepping over every
-- row before it (see src/repo/directory/rank_blocks.rs). A block holds the rows
-- from first_id up to the next block's first_id; the first block of each tenant
-- starts at the nil id. Written in the transaction that adds or removes a row.
CREATE TABLE directory_rank_blocks (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    resource   text NOT NULL CHECK (resource IN ('users', 'groups')),
    first_id   uuid NOT NULL,
    n_rows     bigint NOT NULL CHECK (n_rows >= 0),
    PRIMARY KEY (tenant_id, resource, first_id)
);

-- The rows already there, in blocks of 1,000.
INSERT INTO directory_rank_blocks (tenant_id, resource, first_id, n_rows)
SELECT tenant_id, 'users',
       CASE WHEN block = 0 THEN '00000000-0000-0000-0000-000000000000'::uuid
            ELSE (array_agg(id ORDER BY id))[1] END,
       count(*)
FROM (SELECT tenant_id, id, (row_number() OVER (PARTITION BY tenant_id ORDER BY id) - 1) / 1000 AS block
      FROM directory_users) numbered
GROUP BY tenant_id, block;

INSERT INTO directory_rank_blocks (tenant_id, resource, first_id, n_rows)
SELECT tenant_id, 'groups',
       CASE WHEN block = 0 THEN '00000000-0000-0000-0000-000000000000'::uuid
            ELSE (array_agg(id ORDER BY id))[1] END,
       count(*)
FROM (SELECT tenant_id, id, (row_number() OVER (PARTITION BY tenant_id ORDER BY id) - 1) / 1000 AS block
      FROM directory_groups) numbered
GROUP BY tenant_id, block;

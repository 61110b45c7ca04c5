-- A group's displayName is unique in its tenant, ignoring case: Entra ID and Okta
-- match groups by it, and Microsoft's SCIM validator expects a second group of the
-- same name to be refused with 409 uniqueness.
--
-- `name_key` carries the uniqueness: the lowercased name, or NULL for a group that
-- shared its name with an older group before this rule existed. Such a group keeps
-- working (NULLs never collide) until it is renamed, which gives it a key.
ALTER TABLE directory_groups ADD COLUMN name_key TEXT;
UPDATE directory_groups SET name_key = display_name_lower
WHERE NOT EXISTS (
    SELECT 1 FROM directory_groups older
    WHERE older.tenant_id = directory_groups.tenant_id
      AND older.display_name_lower = directory_groups.display_name_lower
      AND (older.created_at < directory_groups.created_at
           OR (older.created_at = directory_groups.created_at AND older.id < directory_groups.id))
);
CREATE UNIQUE INDEX directory_groups_name_key_idx ON directory_groups (tenant_id, name_key);

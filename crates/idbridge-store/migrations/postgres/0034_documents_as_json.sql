-- Users' and groups' SCIM documents as `json` (their text, kept as idbridge wrote
-- it) instead of `jsonb` (a parsed binary form). Every read of a document is for
-- sending it on as text: `jsonb` turned each back into text, escaping every string
-- again, which was 44 % of PostgreSQL's time on a first page of 100 users, and
-- parsed each written document into its binary form. Filters that reach into a
-- document (attributes without a column of their own) read `json` with the same
-- operators; none of them has an index on the document.
--
-- Rewrites both tables and their indexes under an exclusive lock, during which SCIM
-- and sign-ins wait: 12 s for a million users on the two-core benchmark machine
-- (docs/benchmarks.md; docs/deployment.md, "Upgrades").
ALTER TABLE directory_users ALTER COLUMN document TYPE json USING document::json;
ALTER TABLE directory_groups ALTER COLUMN document TYPE json USING document::json;

-- A secret that a page shows once (a new SCIM token, setup link or webhook secret),
-- kept for the few minutes between the POST that made it and the GET it redirects
-- to (post/redirect/get: a reload never makes a second one). The GET takes the row
-- (DELETE … RETURNING), so it is shown at most once.
--
-- `sealed` is AES-256-GCM under a key derived from the visitor's own cookie token
-- (console session or setup link), which the database holds only as a digest: what
-- is stored here opens for that browser and no one else, with or without
-- --secret-key. Rows past expires_at are swept when the next one is kept.
CREATE TABLE shown_once (
    id          uuid PRIMARY KEY,
    sealed      bytea NOT NULL CHECK (length(sealed) <= 4096),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX shown_once_expiry_idx ON shown_once (expires_at);

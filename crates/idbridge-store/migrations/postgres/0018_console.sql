-- The operator console (/admin): who may sign in, and their sessions.
--
-- Sessions live here, not in a process's memory, because any number of stateless
-- idbridge processes share one database: a session started on one is valid on all,
-- and signing out on one ends it everywhere at once.
CREATE TABLE operators (
    id             uuid PRIMARY KEY,
    -- Stored lowercased: the sign-in form compares addresses case-insensitively.
    email          text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    -- An argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at     timestamptz NOT NULL,
    -- A disabled operator cannot sign in, and their open sessions stop working.
    disabled_at    timestamptz
);

-- The cookie carries a random 256-bit token; only its SHA-256 digest is stored, so a
-- copy of the database opens no session. The CSRF token of a session is derived from
-- the session token (a keyed digest computed per request), so it needs no column and
-- cannot be read from the database either.
CREATE TABLE console_sessions (
    id            uuid PRIMARY KEY,
    token_hash    bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    operator_id   uuid NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    -- Absolute end, set at sign-in; the idle limit is measured from last_seen_at.
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_operator_idx ON console_sessions (operator_id);
-- Sweeping ended sessions reads them by their absolute end.
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

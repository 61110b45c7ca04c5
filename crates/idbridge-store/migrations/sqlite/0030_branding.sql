-- Branding. See the PostgreSQL migration of the same number for the design.
CREATE TABLE branding (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    app_name       TEXT,
    accent_color   TEXT CHECK (accent_color GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    support_email  TEXT,
    support_url    TEXT,
    return_url     TEXT,
    logo           BLOB CHECK (length(logo) <= 262144),
    logo_type      TEXT CHECK (logo_type IN ('image/png', 'image/jpeg', 'image/webp')),
    logo_hash      TEXT,
    updated_at     INTEGER,
    CHECK ((logo IS NULL) = (logo_type IS NULL) AND (logo IS NULL) = (logo_hash IS NULL))
) STRICT;
INSERT INTO branding (id) VALUES (1);

ALTER TABLE setup_links ADD COLUMN return_url TEXT;
ALTER TABLE setup_links ADD COLUMN support_email TEXT;
ALTER TABLE setup_links ADD COLUMN support_url TEXT;

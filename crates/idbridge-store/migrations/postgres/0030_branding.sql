-- The vendor's brand on the setup portal, the sign-in pages and the invitation
-- e-mail: one row (id 1), set by the operator for the whole deployment. Every
-- column NULL means "as before" (idbridge's own look).
--
-- The logo is stored here, not linked: the pages' CSP allows images only from
-- idbridge's own origin. PNG, JPEG or WebP only (checked by magic bytes before it
-- is stored; never SVG), at most 256 KiB; logo_hash (hex SHA-256, cut short) goes
-- into its URL so it can be cached for good.
CREATE TABLE branding (
    id             integer PRIMARY KEY CHECK (id = 1),
    app_name       text,
    accent_color   text CHECK (accent_color ~ '^#[0-9a-f]{6}$'),
    support_email  text,
    support_url    text,
    return_url     text,
    logo           bytea CHECK (length(logo) <= 262144),
    logo_type      text CHECK (logo_type IN ('image/png', 'image/jpeg', 'image/webp')),
    logo_hash      text,
    updated_at     timestamptz,
    CHECK ((logo IS NULL) = (logo_type IS NULL) AND (logo IS NULL) = (logo_hash IS NULL))
);
INSERT INTO branding (id) VALUES (1);

-- A setup link may send its IT admin back somewhere else, and name another
-- contact, than the deployment's branding does.
ALTER TABLE setup_links ADD COLUMN return_url text;
ALTER TABLE setup_links ADD COLUMN support_email text;
ALTER TABLE setup_links ADD COLUMN support_url text;

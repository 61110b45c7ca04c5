-- Email domains a tenant claims, proven by a DNS TXT record. A verified domain routes
-- sign-ins (login_hint, /api/v1/lookup) to its tenant.
--
-- Several tenants may claim one domain while it is pending (a claim proves nothing),
-- but only one may hold it verified: the partial unique index makes that a database
-- rule, so two processes verifying at once cannot both win.
CREATE TABLE tenant_domains (
    id                  BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id           BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Normalised: lowercase ASCII (punycode), no trailing dot.
    domain              TEXT NOT NULL CHECK (length(domain) BETWEEN 3 AND 253),
    -- The random part of the TXT value; kept for the life of the claim.
    verification_token  TEXT NOT NULL,
    verified            INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
    verified_at         INTEGER,
    -- The last DNS check (by an admin or the daily re-check) and what it found.
    checked_at          INTEGER,
    verification_error  TEXT,
    created_at          INTEGER NOT NULL,
    UNIQUE (tenant_id, domain)
) STRICT;
-- Listing a tenant's domains pages by id.
CREATE INDEX tenant_domains_tenant_id_idx ON tenant_domains (tenant_id, id);
-- One verified holder per domain; also answers the sign-in lookup by domain.
CREATE UNIQUE INDEX tenant_domains_verified_domain_idx ON tenant_domains (domain)
    WHERE verified = 1;
-- The daily re-check picks verified domains whose last check is oldest.
CREATE INDEX tenant_domains_recheck_idx ON tenant_domains (checked_at)
    WHERE verified = 1;

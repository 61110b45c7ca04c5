-- Email domains a tenant claims, proven by a DNS TXT record. A verified domain routes
-- sign-ins (login_hint, /api/v1/lookup) to its tenant.
--
-- Several tenants may claim one domain while it is pending (a claim proves nothing),
-- but only one may hold it verified: the partial unique index makes that a database
-- rule, so two processes verifying at once cannot both win.
CREATE TABLE tenant_domains (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Normalised: lowercase ASCII (punycode), no trailing dot.
    domain              text NOT NULL CHECK (length(domain) BETWEEN 3 AND 253),
    -- The random part of the TXT value; kept for the life of the claim.
    verification_token  text NOT NULL,
    verified            boolean NOT NULL DEFAULT false,
    verified_at         timestamptz,
    -- The last DNS check (by an admin or the daily re-check) and what it found.
    checked_at          timestamptz,
    verification_error  text,
    created_at          timestamptz NOT NULL,
    UNIQUE (tenant_id, domain)
);
-- Listing a tenant's domains pages by id.
CREATE INDEX tenant_domains_tenant_id_idx ON tenant_domains (tenant_id, id);
-- One verified holder per domain; also answers the sign-in lookup by domain.
CREATE UNIQUE INDEX tenant_domains_verified_domain_idx ON tenant_domains (domain)
    WHERE verified;
-- The daily re-check picks verified domains whose last check is oldest.
CREATE INDEX tenant_domains_recheck_idx ON tenant_domains (checked_at)
    WHERE verified;

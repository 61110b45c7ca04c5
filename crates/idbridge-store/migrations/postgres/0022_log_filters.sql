-- Filters on the sign-in and provisioning logs (the console's and the admin API's
-- `outcome`, `reason`, `email`, `method` parameters). Each index leads with the
-- tenant and ends with the id, so a filtered page is read newest-first straight
-- off the index, as an unfiltered page is off the *_tenant_idx indexes.

CREATE INDEX sign_in_events_outcome_idx ON sign_in_events (tenant_id, outcome, id);
CREATE INDEX sign_in_events_reason_idx ON sign_in_events (tenant_id, reason, id);
-- Emails are compared case-insensitively: the query says lower(email) too.
CREATE INDEX sign_in_events_email_idx ON sign_in_events (tenant_id, lower(email), id);

CREATE INDEX provisioning_log_method_idx ON provisioning_log (tenant_id, method, id);
-- Failed and successful requests by status; the queries repeat these predicates
-- word for word, which is what lets SQLite use a partial index.
CREATE INDEX provisioning_log_failed_idx ON provisioning_log (tenant_id, id) WHERE status >= 400;
CREATE INDEX provisioning_log_succeeded_idx ON provisioning_log (tenant_id, id) WHERE status < 400;

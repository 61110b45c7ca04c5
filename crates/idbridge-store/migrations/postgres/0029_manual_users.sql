-- Users the app creates by hand (the admin API, the console, the CLI): source 'manual'.
ALTER TABLE directory_users DROP CONSTRAINT directory_users_source_check;
ALTER TABLE directory_users ADD CONSTRAINT directory_users_source_check
    CHECK (source IN ('scim', 'jit', 'manual'));

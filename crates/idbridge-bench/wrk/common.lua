-- Shared by the SCIM wrk scenarios: the token and the tenant size come from the
-- environment that scripts/bench-scim sets.
token = os.getenv("SCIM_TOKEN")
users = tonumber(os.getenv("SCIM_USERS"))
auth = "Bearer " .. token
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

-- Count only 2xx answers as successes; wrk reports the rest as non-2xx.

-- GET /Users?filter=userName eq "<a random seeded user>": Entra's and Okta's lookup.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  local i = math.random(0, users - 1)
  local path = "/scim/v2/bench/Users?filter=userName%20eq%20%22user" .. i .. "%40bench.example.com%22"
  return wrk.format("GET", path, { ["Authorization"] = auth })
end

-- Okta's import: GET /Users?startIndex=1, 101, 201, … one page after the other, each
-- connection its own walk (bench-scim runs this with one connection per thread).
-- Each walk starts at a random page and wraps at the end, so it measures pages at
-- every depth.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local page = 100
local start = 1

init = function(args)
  start = math.random(0, math.max(0, math.floor(users / page) - 1)) * page + 1
end

request = function()
  return wrk.format("GET", "/scim/v2/bench/Users?startIndex=" .. start .. "&count=" .. page,
    { ["Authorization"] = auth })
end

response = function(status, headers, body)
  start = start + page
  if start > users then
    start = 1
  end
end

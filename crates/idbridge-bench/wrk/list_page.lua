-- GET /Users?startIndex=<random>&count=100: Okta's import, one page at a time.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  local start = math.random(1, math.max(1, users - 100))
  return wrk.format("GET", "/scim/v2/bench/Users?startIndex=" .. start .. "&count=100", { ["Authorization"] = auth })
end

-- GET /Users?startIndex=1&count=100: the first page of a walk, with its true
-- totalResults (the issue's first-page goal, and bench.sh's "list").
dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  return wrk.format("GET", "/scim/v2/bench/Users?startIndex=1&count=100", { ["Authorization"] = auth })
end

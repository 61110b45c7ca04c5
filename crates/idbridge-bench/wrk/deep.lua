-- GET /Users?startIndex=<among the last 2,000 positions>&count=100: the last pages of
-- an import, each asked out of the blue (as the peers' benchmark's `deep` does).
dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  local start = math.random(math.max(1, users - 2000), math.max(1, users - 100))
  return wrk.format("GET", "/scim/v2/bench/Users?startIndex=" .. start .. "&count=100", { ["Authorization"] = auth })
end

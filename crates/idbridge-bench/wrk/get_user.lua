-- GET /Users/{id}: Okta's read of a user before it updates it, a random user each
-- time.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local ids = {}
for line in io.lines(os.getenv("SCIM_IDS")) do ids[#ids + 1] = line end
request = function()
  local id = ids[math.random(1, #ids)]
  return wrk.format("GET", "/scim/v2/bench/Users/" .. id, { ["Authorization"] = auth })
end

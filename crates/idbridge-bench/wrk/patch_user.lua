-- PATCH /Users/{id}: Entra's update of a work email and a family name.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local ids = {}
for line in io.lines(os.getenv("SCIM_IDS")) do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  local id = ids[math.random(1, #ids)]
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' ..
    '{"op":"Replace","path":"name.familyName","value":"Family' .. n .. '"},' ..
    '{"op":"Replace","path":"title","value":"Title' .. n .. '"}]}'
  return wrk.format("PATCH", "/scim/v2/bench/Users/" .. id,
    { ["Authorization"] = auth, ["Content-Type"] = "application/scim+json" }, body)
end

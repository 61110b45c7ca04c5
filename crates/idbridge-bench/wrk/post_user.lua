-- POST /Users with a new userName each time.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local prefix = tostring(math.random(1, 1e9))
local n = 0
request = function()
  n = n + 1
  local name = "new-" .. prefix .. "-" .. n .. "@bench.example.com"
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","active":true,"name":{"givenName":"New","familyName":"User"},' ..
    '"emails":[{"value":"' .. name .. '","type":"work","primary":true}]}'
  return wrk.format("POST", "/scim/v2/bench/Users",
    { ["Authorization"] = auth, ["Content-Type"] = "application/scim+json" }, body)
end

-- POST /saml/bench-sso/acs with a distinct signed response each time (the replay
-- cache accepts each once). Each wrk thread takes every Nth body of the file. A
-- sign-in that lands at the app answers 303, which wrk counts as a success; every
-- refusal is a 4xx, counted under "Non-2xx or 3xx responses".
local bodies = {}
local next_index = 1
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(os.getenv("WRK_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("ACS_BODIES")) do
    if i % total == thread_index then
      table.insert(bodies, line)
    end
    i = i + 1
  end
end

request = function()
  local body = bodies[next_index]
  next_index = next_index + 1
  if body == nil then
    -- Out of responses: a GET the ACS refuses (405), which wrk counts as an error,
    -- so a run that outlasts its responses shows it.
    return wrk.format("GET", "/saml/bench-sso/acs")
  end
  return wrk.format("POST", "/saml/bench-sso/acs",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

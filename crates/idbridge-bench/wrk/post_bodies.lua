-- POSTs a distinct form body each time to POST_PATH: one line of the file BODIES per
-- request, for endpoints that accept each body once (the ACS's replay cache, the
-- token endpoint's single-use codes). Each wrk thread takes every Nth line. A 2xx or
-- 3xx counts as a success; every refusal is a 4xx, counted by wrk under "Non-2xx or
-- 3xx responses".
local bodies = {}
local next_index = 1
local threads = {}
local path = os.getenv("POST_PATH")

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(os.getenv("WRK_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BODIES")) do
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
    -- Out of bodies: a GET the endpoint refuses (405), which wrk counts as an
    -- error, so a run that outlasts its bodies shows it.
    return wrk.format("GET", path)
  end
  return wrk.format("POST", path,
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

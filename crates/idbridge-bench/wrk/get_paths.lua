-- GETs a distinct path each time: one line of the file PATHS per request, for
-- endpoints that accept each request once (the OIDC callback's flows, taken by
-- their state). Each wrk thread takes every Nth line. A 2xx or 3xx counts as a
-- success; every refusal is a 4xx or 5xx, counted by wrk under "Non-2xx or 3xx
-- responses".
local paths = {}
local next_index = 1
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(os.getenv("WRK_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("PATHS")) do
    if i % total == thread_index then
      table.insert(paths, line)
    end
    i = i + 1
  end
end

request = function()
  local path = paths[next_index]
  next_index = next_index + 1
  if path == nil then
    -- Out of paths: a path the server does not serve (404), which wrk counts as
    -- an error, so a run that outlasts its paths shows it.
    return wrk.format("GET", "/bench-out-of-paths")
  end
  return wrk.format("GET", path)
end

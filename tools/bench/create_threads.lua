-- wrk script for tools/bench/search.sh: POST /threads {} as many users in turn, each request
-- with the next user's token ("Authorization: Bearer user-N", N = 0 .. BENCH_USERS-1; every wrk
-- thread starts at a different user). At the end it prints the same machine-readable line as
-- request.lua.
--   BENCH_USERS  how many users (default 10000)
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local threads_started = 0

function setup(thread)
  thread:set("first", threads_started * 7919)  -- spread the threads' starting users apart
  threads_started = threads_started + 1
end

local prepared = {}
local n = 0

function init(args)
  -- Every request is formatted once, then replayed in turn.
  local headers = { ["Content-Type"] = "application/json" }
  local first = tonumber(first or 0)
  for i = 0, users - 1 do
    headers["Authorization"] = "Bearer user-" .. ((first + i) % users)
    prepared[i + 1] = wrk.format("POST", "/threads", headers, "{}")
  end
end

function request()
  n = n % users + 1
  return prepared[n]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
    "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d non2xx=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end

-- wrk script for tools/bench/authz.sh: one request shape per run, read from the environment.
--   BENCH_METHOD  GET or POST (default GET)
--   BENCH_BODY    request body for POST (sent as application/json)
--   BENCH_AUTH    value of the Authorization header (omitted when empty)
-- At the end it prints one machine-readable line that authz.sh parses.
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local auth = os.getenv("BENCH_AUTH") or ""

wrk.method = method
if auth ~= "" then wrk.headers["Authorization"] = auth end
if method == "POST" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
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

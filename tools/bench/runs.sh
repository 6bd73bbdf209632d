#!/usr/bin/env bash
# Benchmarks runs.wait on the tutorial's `agent` graph with authentication on (auth_tokens):
# median latency at concurrency 1 and throughput at concurrency 16, with wrk on 127.0.0.1.
# Each request is POST /runs/wait (a stateless run: its own thread, queued, executed by a
# worker, checkpointed, answered with the final state, then its thread deleted).
#
#   tools/bench/runs.sh                 # prints a markdown table
#   BENCH_DURATION=20s tools/bench/runs.sh
#   BENCH_DATABASE_URI=:memory: BENCH_WORKERS=4 tools/bench/runs.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${BENCH_DURATION:-10s}"
port="${BENCH_PORT:-18231}"
tools/install-deps.sh --bench
[[ -x build/langgraph-server ]] || tools/build.sh

# A fresh database of the default kind (SQLite, every acknowledged write on disk), or BENCH_DATABASE_URI.
data=$(mktemp -d /tmp/lgs-bench-runs-XXXXXX)
database="${BENCH_DATABASE_URI:-sqlite:$data/langgraph.sqlite}"
build/langgraph-server --config langgraph.json --host 127.0.0.1 --port "$port" --database-uri "$database" \
  ${BENCH_WORKERS:+--workers "$BENCH_WORKERS"} >/tmp/langgraph-bench-runs.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ok" >/dev/null && break; sleep 0.1; done

export BENCH_METHOD=POST BENCH_AUTH="Bearer user1-token"
export BENCH_BODY='{"assistant_id":"agent","input":{"messages":[{"role":"user","content":"Hello!"}]}}'
curl -sf -X POST -H "Authorization: $BENCH_AUTH" -d "$BENCH_BODY" "http://127.0.0.1:$port/runs/wait" | grep -q "Hello user1" \
  || { echo "runs/wait did not answer as expected" >&2; exit 1; }

run() {  # connections threads
  wrk -t"$2" -c"$1" -d2s -s tools/bench/request.lua "http://127.0.0.1:$port/runs/wait" >/dev/null  # warm-up
  wrk -t"$2" -c"$1" -d"$duration" -s tools/bench/request.lua "http://127.0.0.1:$port/runs/wait" | grep BENCH_RESULT
}
one=$(run 1 1)
many=$(run 16 2)
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
ms() { awk "BEGIN{printf \"%.2f\", $1/1000}"; }
errors() { echo $(( $(field "$1" non2xx) + $(field "$1" timeouts) + $(field "$1" read_errors) )); }

echo "| concurrency | runs/s | p50 latency | p99 latency | errors |"
echo "|---|---|---|---|---|"
echo "| 1 | $(field "$one" rps) | $(ms "$(field "$one" p50_us)") ms | $(ms "$(field "$one" p99_us)") ms | $(errors "$one") |"
echo "| 16 | $(field "$many" rps) | $(ms "$(field "$many" p50_us)") ms | $(ms "$(field "$many" p99_us)") ms | $(errors "$many") |"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); wrk and the server share them."
echo "Database: ${BENCH_DATABASE_URI:-SQLite in a fresh folder (the default kind)}; run workers: ${BENCH_WORKERS:-the default}."

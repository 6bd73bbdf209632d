#!/usr/bin/env bash
# Authorization overhead benchmark: throughput (requests/s) and latency (p50/p99) of
# authenticated, authorized GET /threads/{id} and POST /threads/search {"limit": 10}, measured with
# wrk on 127.0.0.1, side by side against three targets started from the same build:
#   authz    langgraph-server configured as plugins/auth_owner/langgraph.json (owner stamping + owner
#            filter); auth_tokens (authentication only) until auth_owner is built
#   no auth  the same binary on a config with the same graphs and no "auth" key
#   ceiling  tools/bench/ceiling_server.cpp: a bare Boost.Beast server answering fixed bodies
# Both servers get a fresh folder for their config, so that whatever their default storage keeps
# beside it starts empty (and is of the same kind for both).
# Prints a markdown table and rewrites the "Authorization overhead" section of docs/benchmarks.md.
#
# Environment (defaults in brackets):
#   BENCH_THREADS [2] BENCH_CONNECTIONS [16] BENCH_DURATION [10] BENCH_WARMUP [2]   wrk -t/-c/-d, seconds
#   BENCH_ROUNDS [3]      every cell is measured this many times, targets interleaved; medians reported
#   BENCH_SEED [1000]     threads created per user (user1 and user2) on each server before measuring
#   BENCH_PORT [18400]    first of three consecutive ports on 127.0.0.1
#   BENCH_IDLE_WAIT [180] seconds to wait for other work on the machine to finish before measuring
#   BENCH_BUILD_DIR [build] the build to measure (built with tools/build.sh when it is build/ and empty)
#   BENCH_FOREIGN_MAX [10] BENCH_RETRIES [3]   a measurement during which other processes used more
#                         than this % of the machine's CPU is taken again, up to this many tries
#   BENCH_DOCS [1]        0: print the table only, leave docs/benchmarks.md alone
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source tools/bench/lib.sh

WRK_THREADS=${BENCH_THREADS:-2}
WRK_CONNECTIONS=${BENCH_CONNECTIONS:-16}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
SEED=${BENCH_SEED:-1000}
PORT=${BENCH_PORT:-18400}
WRITE_DOCS=${BENCH_DOCS:-1}
for v in WRK_THREADS WRK_CONNECTIONS DURATION WARMUP ROUNDS SEED PORT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "authz.sh: $v must be a whole number, got '${!v}'" >&2; exit 2; }
done
(( DURATION > 0 && ROUNDS > 0 && SEED > 0 )) || { echo "authz.sh: duration, rounds and seed must be > 0" >&2; exit 2; }

HOST=127.0.0.1
BUILD_NAME=${BENCH_BUILD_DIR:-build}
BUILD_NAME=${BUILD_NAME%/}
[[ $BUILD_NAME == /* ]] && BUILD_DIR=$BUILD_NAME || BUILD_DIR=$ROOT/$BUILD_NAME
OUT=$BUILD_DIR/bench
mkdir -p "$OUT"

# --- what the benchmark needs: the project's toolchain, then wrk and curl --------------------------
tools/install-deps.sh --bench

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  [[ $BUILD_NAME == build ]] || { echo "authz.sh: $BUILD_DIR is not a build folder; configure it first" >&2; exit 2; }
  tools/build.sh
fi
BUILD_NOTE=$(build_note)
echo "Building the server and the plugins in $BUILD_NAME/"
cmake --build "$BUILD_DIR" -j"$(nproc)" --target langgraph-server agent auth_owner auth_tokens >/dev/null
BUILD_TYPE=$(awk -F= '/^CMAKE_BUILD_TYPE:/{print $2}' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)

CEILING=$OUT/ceiling_server
if [[ ! -x $CEILING || tools/bench/ceiling_server.cpp -nt $CEILING ]]; then
  echo "Compiling $CEILING"
  g++ -O2 -std=c++20 -o "$CEILING" tools/bench/ceiling_server.cpp -pthread
fi

# --- the three targets ------------------------------------------------------------------------------
if [[ -f $BUILD_DIR/plugins/auth_owner.so ]]; then
  AUTH_PLUGIN=auth_owner
  AUTHZ_LABEL="authz (auth_owner)"
  AUTHZ_NOTE="authz target: auth_owner as \`plugins/auth_owner/langgraph.json\` deploys it (authentication, owner stamped on create, every read filtered by owner)."
  FALLBACK=0
else
  AUTH_PLUGIN=auth_tokens
  AUTHZ_LABEL="authn only (auth_tokens)"
  AUTHZ_NOTE="authz target: FALLBACK to auth_tokens (authentication only, no authorization) because \`$BUILD_NAME/plugins/auth_owner.so\` does not exist yet."
  FALLBACK=1
fi
echo "$AUTHZ_NOTE"

# The two deployments, each in a fresh folder: the same graphs, with and without the "auth" key.
NOAUTH_CONFIG=$OUT/noauth/langgraph.json
AUTHZ_CONFIG=$OUT/authz/langgraph.json
rm -rf "$OUT/noauth" "$OUT/authz"
mkdir -p "$OUT/noauth" "$OUT/authz"
cat >"$NOAUTH_CONFIG" <<EOF
{
  "graphs": {
    "agent": "$BUILD_DIR/plugins/agent.so:graph"
  }
}
EOF
cat >"$AUTHZ_CONFIG" <<EOF
{
  "graphs": {
    "agent": "$BUILD_DIR/plugins/agent.so:graph"
  },
  "auth": {
    "path": "$BUILD_DIR/plugins/$AUTH_PLUGIN.so:auth"
  }
}
EOF

declare -A PID=()
cleanup() {
  local name pid
  for name in "${!PID[@]}"; do
    pid=${PID[$name]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # start NAME PORT COMMAND... : runs it in the background, waits until /ok answers
  local name=$1 port=$2
  shift 2
  if curl -s -o /dev/null --max-time 1 "http://$HOST:$port/ok"; then
    echo "authz.sh: port $port is already in use; set BENCH_PORT" >&2
    exit 1
  fi
  "$@" >"$OUT/$name.log" 2>&1 &
  PID[$name]=$!
  for _ in $(seq 150); do
    curl -s -o /dev/null --max-time 1 "http://$HOST:$port/ok" && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "authz.sh: $name did not start on port $port; its log:" >&2
  cat "$OUT/$name.log" >&2
  exit 1
}

seed() {  # seed PORT USER N : creates N threads as USER (one keep-alive curl), prints their ids
  local port=$1 user=$2 n=$3 urls=()
  for _ in $(seq "$n"); do urls+=("http://$HOST:$port/threads"); done
  # The metadata is what auth_owner stamps itself, so every server holds the same data.
  curl -sS --fail --max-time 120 -H "Authorization: Bearer $user-token" -H "Content-Type: application/json" \
    -d "{\"metadata\":{\"owner\":\"$user\"}}" -w '\n' "${urls[@]}" |
    grep -o '"thread_id":"[0-9a-f-]*"' | cut -d'"' -f4
}

status_of() {  # status_of METHOD URL TOKEN [BODY]
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$1" ${3:+-H "Authorization: Bearer $3"} \
    -H "Content-Type: application/json" ${4:+-d "$4"} "$2"
}

count_of() {  # POST /threads/count as TOKEN
  curl -s --max-time 5 -X POST -H "Authorization: Bearer $2" -H "Content-Type: application/json" -d '{}' "$1"
}

wait_idle
BUSY_NOTE=$IDLE_NOTE

PORT_CEILING=$PORT
PORT_NOAUTH=$((PORT + 1))
PORT_AUTHZ=$((PORT + 2))
start ceiling "$PORT_CEILING" "$CEILING" --host "$HOST" --port "$PORT_CEILING"
start noauth "$PORT_NOAUTH" "$BUILD_DIR/langgraph-server" --config "$NOAUTH_CONFIG" --host "$HOST" --port "$PORT_NOAUTH"
start authz "$PORT_AUTHZ" "$BUILD_DIR/langgraph-server" --config "$AUTHZ_CONFIG" --host "$HOST" --port "$PORT_AUTHZ"

declare -A THREAD_ID=()
for target in noauth authz; do
  port_var=PORT_${target^^}
  port=${!port_var}
  echo "Seeding $target: $SEED threads as user1, $SEED as user2"
  ids=$(seed "$port" user1 "$SEED")
  seed "$port" user2 "$SEED" >/dev/null
  [[ $(wc -l <<<"$ids") -eq $SEED ]] || { echo "authz.sh: seeding $target failed" >&2; exit 1; }
  THREAD_ID[$target]=$(sed -n "$((SEED / 2))p" <<<"$ids")
done
THREAD_ID[ceiling]=${THREAD_ID[authz]}

# Sanity: every measured request must succeed, and authorization must be in force on authz.
for target in ceiling noauth authz; do
  port_var=PORT_${target^^}
  base=http://$HOST:${!port_var}
  for check in "GET $base/threads/${THREAD_ID[$target]}" "POST $base/threads/search"; do
    code=$(status_of "${check% *}" "${check#* }" user1-token '{"limit": 10}')
    [[ $code == 200 ]] || { echo "authz.sh: $target: $check answered $code, not 200" >&2; exit 1; }
  done
done
authz_base=http://$HOST:$PORT_AUTHZ
SANITY="as user1: threads counted $(count_of "$authz_base/threads/count" user1-token) (of $((2 * SEED)) threads); user2 reading user1's thread: HTTP $(status_of GET "$authz_base/threads/${THREAD_ID[authz]}" user2-token); no token: HTTP $(status_of GET "$authz_base/threads/${THREAD_ID[authz]}" "")"
echo "authz target check: $SANITY"

# --- measurements -------------------------------------------------------------------------------------
SEARCH_BODY='{"limit": 10}'
FILTERED_BODY='{"limit": 10, "metadata": {"owner": "user1"}}'
# cell = target:route ; routes: get, search, search_owner (no-auth server given authz's filter by hand)
CELLS_BY_ROUTE=("ceiling:get noauth:get authz:get" "ceiling:search noauth:search noauth:search_owner authz:search")
RESULTS=$OUT/results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat)
  awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"
}

machine_ticks() {  # busy and total CPU time of the whole machine, in clock ticks
  awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat
}
children_ticks() {  # CPU time of this shell's finished children (wrk, curl...), in clock ticks
  awk '{sub(/^.*\) /, ""); print $14 + $15}' "/proc/$$/stat"
}
FOREIGN_MAX=${BENCH_FOREIGN_MAX:-10}
RETRIES=${BENCH_RETRIES:-3}
[[ $FOREIGN_MAX =~ ^[0-9]+$ && $RETRIES =~ ^[1-9][0-9]*$ ]] ||
  { echo "authz.sh: BENCH_FOREIGN_MAX must be a whole number and BENCH_RETRIES at least 1" >&2; exit 2; }
REMEASURED=0
CONTAMINATED=0

measure() {  # measure TARGET ROUTE ROUND
  local target=$1 route=$2 round=$3 port_var=PORT_${1^^} method url body
  url=http://$HOST:${!port_var}
  case $route in
    get) method=GET url+=/threads/${THREAD_ID[$target]} body="" ;;
    search) method=POST url+=/threads/search body=$SEARCH_BODY ;;
    search_owner) method=POST url+=/threads/search body=$FILTERED_BODY ;;
  esac
  if ! kill -0 "${PID[$target]}" 2>/dev/null; then
    echo "authz.sh: the $target server is gone (stopped from outside this script?); its log:" >&2
    tail -5 "$OUT/$target.log" >&2
    exit 1
  fi
  local wrk=(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -s tools/bench/request.lua "$url")
  export BENCH_METHOD=$method BENCH_BODY=$body BENCH_AUTH="Bearer user1-token"
  local attempt line cpu_before cpu_after machine_before machine_after children_before children_after foreign
  for attempt in $(seq "$RETRIES"); do
    if (( WARMUP > 0 )); then
      timeout $((WARMUP + 30)) "${wrk[@]}" -d"${WARMUP}s" >/dev/null
    fi
    cpu_before=$(cpu_ticks "${PID[$target]}")
    machine_before=$(machine_ticks)
    children_before=$(children_ticks)
    line=$(timeout $((DURATION + 30)) "${wrk[@]}" -d"${DURATION}s" | grep '^BENCH_RESULT') ||
      { echo "authz.sh: wrk failed on $target $route" >&2; exit 1; }
    cpu_after=$(cpu_ticks "${PID[$target]}")
    machine_after=$(machine_ticks)
    children_after=$(children_ticks)
    # Server CPU time (user + system, every thread) per request over the measured run, and the
    # share of the machine's CPU that neither the server nor wrk used (other work on the machine).
    line+=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$CLK_TCK" -v l="$line" \
      'BEGIN{match(l, /requests=[0-9]+/); n=substr(l, RSTART + 9, RLENGTH - 9); printf " cpu_us=%.1f", t / hz * 1e6 / n}')
    foreign=$(awk -v b="$machine_before" -v a="$machine_after" -v s=$((cpu_after - cpu_before)) \
      -v c=$((children_after - children_before)) 'BEGIN{split(b, x, " "); split(a, y, " "); total = y[2] - x[2];
        f = (y[1] - x[1] - s - c) * 100 / (total + (total == 0)); printf "%.0f", f < 0 ? 0 : f}')
    line+=" foreign_pct=$foreign"
    (( foreign <= FOREIGN_MAX )) && break
    if (( attempt < RETRIES )); then
      echo "  (other processes used $foreign% of the CPU during $target $route; measuring it again)"
      REMEASURED=$((REMEASURED + 1))
    else
      CONTAMINATED=$((CONTAMINATED + 1))
    fi
  done
  echo "$line" >"$RESULTS/$target.$route.$round"
  printf '  round %d  %-8s %-13s %s\n' "$round" "$target" "$route" "${line#BENCH_RESULT }"
}

cells_total=0
for group in "${CELLS_BY_ROUTE[@]}"; do for _ in $group; do cells_total=$((cells_total + 1)); done; done
echo "Measuring: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s (after ${WARMUP}s warm-up), $ROUNDS round(s)," \
  "about $(( (DURATION + WARMUP + 1) * cells_total * ROUNDS ))s"
for round in $(seq "$ROUNDS"); do
  for group in "${CELLS_BY_ROUTE[@]}"; do
    read -ra cells <<<"$group"
    n=${#cells[@]}
    for i in $(seq 0 $((n - 1))); do  # rotate the order each round: no target is always first
      cell=${cells[$(( (i + round - 1) % n ))]}
      measure "${cell%%:*}" "${cell#*:}" "$round"
    done
  done
done

# Other work that started during the run shows up once the servers are idle.
BUSY_AFTER=$(cpu_busy)
if (( BUSY_AFTER > 15 )); then
  BUSY_NOTE+="${BUSY_NOTE:+ }WARNING: other processes used $BUSY_AFTER% of the CPU right after measuring; these numbers may be skewed."
fi
if (( CONTAMINATED > 0 )); then
  BUSY_NOTE+="${BUSY_NOTE:+ }WARNING: in $CONTAMINATED measurement(s) other processes used more than $FOREIGN_MAX% of the CPU even after $RETRIES tries; these numbers are skewed."
fi
REMEASURE_NOTE="Measurements during which other processes used more than $FOREIGN_MAX% of the machine's CPU are taken again (up to $RETRIES tries): $REMEASURED were."

# --- report ---------------------------------------------------------------------------------------------
field() {  # field TARGET ROUTE KEY : median over rounds
  cat "$RESULTS/$1.$2".* | tr ' ' '\n' | awk -F= -v k="$3" '$1==k{print $2}' | sort -g |
    awk '{v[NR]=$1} END{if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
errors() {  # total failed requests (socket errors, timeouts, non-2xx) over every round
  cat "$RESULTS/$1.$2".* | tr ' ' '\n' |
    awk -F= '$1~/_errors$|^timeouts$|^non2xx$/{s+=$2} END{print s+0}'
}
# compare CELL_A CELL_B KEY KIND : A against B measured in the same round, every round; prints the
# median and, with several rounds, the range. KIND "drop": 1 - A/B (throughput lost); "growth": A/B - 1.
compare() {
  local r a b values=""
  for r in $(seq "$ROUNDS"); do
    a=$(tr ' ' '\n' <"$RESULTS/$1.$r" | awk -F= -v k="$3" '$1==k{print $2}')
    b=$(tr ' ' '\n' <"$RESULTS/$2.$r" | awk -F= -v k="$3" '$1==k{print $2}')
    values+=$(awk -v a="$a" -v b="$b" -v kind="$4" 'BEGIN{printf "%.4f\n", kind == "drop" ? 1 - a/b : a/b - 1}')$'\n'
  done
  sort -g <<<"${values%$'\n'}" | awk -v kind="$4" '
    {v[NR] = $1 * 100}
    END {
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      fmt = kind == "drop" ? "%.1f%%" : "%+.1f%%"
      printf fmt, m
      if (NR > 1) printf " (" fmt " … " fmt ")", v[1], v[NR]
    }'
}

route_label() {
  case $1 in
    get) echo 'GET /threads/{id}' ;;
    search) echo 'POST /threads/search' ;;
    search_owner) echo 'POST /threads/search + owner filter in body' ;;
  esac
}
target_label() {
  case $1 in
    ceiling) echo "ceiling (plain Boost.Beast)" ;;
    noauth) echo "no auth" ;;
    authz) echo "$AUTHZ_LABEL" ;;
  esac
}

TABLE=$OUT/table.md
{
  echo "| target | route | req/s | p50 | p99 | server CPU/req | auth overhead (req/s) | auth overhead (CPU/req) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for group in "${CELLS_BY_ROUTE[@]}"; do
    for cell in $group; do
      target=${cell%%:*} route=${cell#*:}
      rps=$(field "$target" "$route" rps)
      cpu=$(field "$target" "$route" cpu_us)
      over="—" cpu_over="—"
      if [[ $target == authz ]]; then
        over=$(compare "authz.$route" "noauth.$route" rps drop)
        cpu_over=$(compare "authz.$route" "noauth.$route" cpu_us growth)
      fi
      err=$(errors "$target" "$route")
      errnote=""
      (( err > 0 )) && errnote=" ($err failed)"
      # shellcheck disable=SC2016  # the backquotes are markdown
      printf '| %s | `%s` | %.0f%s | %s | %s | %.0f µs | %s | %s |\n' "$(target_label "$target")" "$(route_label "$route")" \
        "$rps" "$errnote" "$(ms "$(field "$target" "$route" p50_us)")" "$(ms "$(field "$target" "$route" p99_us)")" \
        "$cpu" "$over" "$cpu_over"
    done
  done
} >"$TABLE"

if (( FALLBACK )); then
  EQUAL_WORK="(auth_tokens does not filter: the search matches every thread on both servers, so the plain no-auth search row is the equal-work comparison.)"
else
  EQUAL_WORK="Against the no-auth server given the owner filter by hand (the same rows matched and returned), authz search overhead: $(compare authz.search noauth.search_owner rps drop) in req/s, $(compare authz.search noauth.search_owner cpu_us growth) in server CPU/req. (The unfiltered no-auth search is not the same work: it matches twice as many threads, and the storage answers it without evaluating any condition on metadata, so its comparison in the table adds to the cost of authentication and authorization what filtering by owner costs the storage, which can be more or less than not filtering.)"
fi
CPU_MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
MACHINE="$(nproc) cores ($CPU_MODEL), $(uname -sr); wrk and the server share those cores"
COMMAND="tools/bench/authz.sh"
custom=""
for v in BENCH_THREADS BENCH_CONNECTIONS BENCH_DURATION BENCH_WARMUP BENCH_ROUNDS BENCH_SEED BENCH_BUILD_DIR BENCH_FOREIGN_MAX BENCH_RETRIES; do
  [[ -n ${!v:-} ]] && custom+="$v=${!v} "
done
COMMAND="$custom$COMMAND"

echo
echo "$AUTHZ_NOTE"
echo "Machine: $MACHINE"
[[ -n $BUSY_NOTE ]] && echo "$BUSY_NOTE"
echo
cat "$TABLE"
echo
echo "Auth overhead (req/s) = 1 - authz req/s / no-auth req/s; (CPU/req) = authz server CPU per request / no-auth's - 1;"
echo "same route, computed within each round: median (lowest … highest)."
echo "$EQUAL_WORK"
echo "$REMEASURE_NOTE"

[[ $WRITE_DOCS == 0 ]] && exit 0

# --- docs/benchmarks.md: replace (or add) the "Authorization overhead" section ---------------------------
SECTION=$OUT/section.md
{
  echo "## Authorization overhead"
  echo
  echo "What authentication plus authorization cost per request: throughput and latency of an"
  echo "authenticated, authorized \`GET /threads/{id}\` and \`POST /threads/search\` with body"
  echo "\`{\"limit\": 10}\`, against the same binary with auth disabled and against a plain Boost.Beast"
  echo "server (\`tools/bench/ceiling_server.cpp\`) answering fixed bodies of the same size. The target is"
  echo "an auth overhead under 5%."
  echo
  echo "- Date: $(date -u +%Y-%m-%d)"
  echo "- Machine: $MACHINE"
  echo "- Build: $BUILD_NOTE (\`$BUILD_NAME/\`, ${BUILD_TYPE:-unknown build type})"
  echo "- Reproduce: \`$COMMAND\`"
  echo "- $AUTHZ_NOTE"
  [[ -n $BUSY_NOTE ]] && echo "- $BUSY_NOTE"
  echo
  cat "$TABLE"
  echo
  echo "Auth overhead (req/s) = 1 − authz req/s ÷ no-auth req/s on the same route; auth overhead"
  echo "(CPU/req) = authz server CPU time per request ÷ no-auth's − 1. Both are computed within each"
  echo "round (the two servers measured back to back) and shown as the median over the rounds, with the"
  echo "lowest and highest in brackets; the other columns are medians. Server CPU/req is the server"
  echo "process's user + system time during the measured run divided by the requests served: it does"
  echo "not depend on how the two cores are shared with wrk, so it is the steadier of the two."
  echo
  echo "$EQUAL_WORK"
  echo
  echo "How it is measured:"
  echo
  echo "- Each server runs on its default storage, started empty from a fresh folder, listens on"
  echo "  127.0.0.1 and holds $SEED threads created as \`user1\` and $SEED as"
  echo "  \`user2\` (each with \`metadata.owner\` set, as \`auth_owner\` stamps it), so every server holds"
  echo "  the same data. The \`GET\` reads one of \`user1\`'s threads."
  echo "- Every request carries \`Authorization: Bearer user1-token\` (authz check before measuring,"
  echo "  $SANITY)."
  if (( FALLBACK )); then
    echo "- The extra no-auth row passes \`metadata.owner\` by hand: what an owner filter will make the"
    echo "  search do once authorization is in force."
  else
    echo "- With authorization the search matches only \`user1\`'s $SEED threads; without auth it matches"
    echo "  all $((2 * SEED)), so the extra no-auth row passes the owner filter by hand to compare equal work."
  fi
  echo "- \`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s\` after a ${WARMUP}s warm-up, on keep-alive connections;"
  echo "  $ROUNDS round(s) with the targets interleaved, medians reported. Servers use their defaults"
  echo "  (512 HTTP threads, keep-alive, TCP_NODELAY)."
  echo "- Settings: \`BENCH_THREADS\`, \`BENCH_CONNECTIONS\`, \`BENCH_DURATION\`, \`BENCH_WARMUP\` (seconds),"
  echo "  \`BENCH_ROUNDS\`, \`BENCH_SEED\`, \`BENCH_PORT\`, \`BENCH_IDLE_WAIT\`, \`BENCH_BUILD_DIR\`; \`BENCH_DOCS=0\` prints without"
  echo "  updating this file. The script waits for the machine to be quiet first and says so when it is not."
  echo "- $REMEASURE_NOTE (\`BENCH_FOREIGN_MAX\`, \`BENCH_RETRIES\`)"
} >"$SECTION"
replace_doc_section "Authorization overhead" "$SECTION"

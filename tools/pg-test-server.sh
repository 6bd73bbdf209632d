#!/usr/bin/env bash
# A private PostgreSQL server for the tests, in a temporary folder, on 127.0.0.1 only.
#
#   eval "$(tools/pg-test-server.sh start)"   # initdb, start; prints the export lines below
#   tools/pg-test-server.sh stop [FOLDER]      # stop it and remove its folder
#
# `start` prints, for a shell to eval:
#   export LANGGRAPH_TEST_POSTGRES_URI=postgres://postgres@127.0.0.1:PORT/postgres   (superuser)
#   export LANGGRAPH_TEST_POSTGRES_DIR=/tmp/lgs-pg-XXXXXX   (what `stop` removes)
# The server listens on a free port of 127.0.0.1 and on a unix socket inside its folder, trusts
# those connections only, and keeps fsync on. Run as root, it runs as the `postgres` system user
# (initdb refuses root); otherwise as the current user. Needs Debian's `postgresql` package
# (tools/install-deps.sh).
set -euo pipefail

log() { echo "pg-test-server: $*" >&2; }

bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return; }
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  log "initdb and pg_ctl not found: install Debian's postgresql package (tools/install-deps.sh)"
  exit 1
}

# Runs a command as the owner of the server's files, from inside its folder.
as_owner() {
  local dir=$1
  shift
  if [[ $(id -u) -eq 0 ]]; then
    (cd "$dir" && runuser -u postgres -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

port_in_use() {
  command -v ss >/dev/null 2>&1 || return 1
  [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

start() {
  local bin port attempt
  bin=$(bindir)
  dir=$(mktemp -d /tmp/lgs-pg-XXXXXX)  # global: the EXIT trap reads it
  # Until the export lines are printed, a failure or an interrupt removes what was made.
  trap 'stop_dir "$dir" >/dev/null 2>&1 || true' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  chmod 700 "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  if ! as_owner "$dir" "$bin/initdb" --pgdata="$dir/data" --username=postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1; then
    log "initdb failed:"
    cat "$dir/initdb.log" >&2
    exit 1
  fi
  as_owner "$dir" tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF

# tools/pg-test-server.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
max_connections = 200
EOF
  as_owner "$dir" tee "$dir/data/pg_hba.conf" >/dev/null <<EOF
# tools/pg-test-server.sh: trust on the private socket and on loopback, nothing else.
local all all              trust
host  all all 127.0.0.1/32 trust
EOF
  for attempt in $(seq 1 20); do
    port=$((20000 + RANDOM % 12000))
    port_in_use "$port" && continue
    if as_owner "$dir" "$bin/pg_ctl" start --pgdata="$dir/data" --log="$dir/server.log" \
        --wait --timeout=60 --options="-p $port" >/dev/null 2>&1; then
      trap - EXIT INT TERM
      echo "export LANGGRAPH_TEST_POSTGRES_URI=postgres://postgres@127.0.0.1:$port/postgres"
      echo "export LANGGRAPH_TEST_POSTGRES_DIR=$dir"
      log "PostgreSQL started on 127.0.0.1:$port in $dir"
      return
    fi
    # Another process took the port between the check and the start: try another one.
    grep -q "could not bind\|Address already in use" "$dir/server.log" 2>/dev/null || break
  done
  log "PostgreSQL did not start:"
  cat "$dir/server.log" >&2 2>/dev/null || true
  exit 1
}

stop_dir() {
  local dir=$1 bin
  [[ -d "$dir" ]] || return 0
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    bin=$(bindir)
    as_owner "$dir" "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=fast --wait --timeout=60 >/dev/null 2>&1 ||
      as_owner "$dir" "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=immediate --wait >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

stop() {
  local dir=${1:-${LANGGRAPH_TEST_POSTGRES_DIR:-}}
  if [[ -z "$dir" ]]; then
    log "stop: which server? Give its folder or set LANGGRAPH_TEST_POSTGRES_DIR"
    exit 2
  fi
  case "$dir" in
    /tmp/lgs-pg-*) ;;
    *) log "stop: $dir is not a folder this script made"; exit 2 ;;
  esac
  stop_dir "$dir"
  log "PostgreSQL in $dir stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop [FOLDER]" >&2; exit 2 ;;
esac

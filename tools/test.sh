#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests (doctest), the storage suite
# on memory, SQLite and PostgreSQL, and the end-to-end tests that drive the real binary with the
# official JS SDK (one CTest run).
#
# PostgreSQL: a private server is started for the run (tools/pg-test-server.sh: a temporary
# folder, 127.0.0.1 only, a free port) and stopped afterwards, also on failure or Ctrl-C; CTest
# gets its superuser URI as LANGGRAPH_TEST_POSTGRES_URI. With LANGGRAPH_TEST_POSTGRES_URI already
# set, that server is used instead; with LANGGRAPH_TEST_POSTGRES=0 the PostgreSQL tests are
# skipped. Extra arguments go to ctest, e.g. tools/test.sh -R 'storage\[postgres\]'.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

pg_dir=""
stop_postgres() {
  if [[ -n "$pg_dir" ]]; then
    tools/pg-test-server.sh stop "$pg_dir" || true
    pg_dir=""
  fi
}
trap stop_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ "${LANGGRAPH_TEST_POSTGRES:-1}" == 0 ]]; then
  echo "LANGGRAPH_TEST_POSTGRES=0: the PostgreSQL tests are skipped"
  unset LANGGRAPH_TEST_POSTGRES_URI
elif [[ -n "${LANGGRAPH_TEST_POSTGRES_URI:-}" ]]; then
  echo "PostgreSQL tests on LANGGRAPH_TEST_POSTGRES_URI from the environment"
else
  if ! server=$(tools/pg-test-server.sh start); then
    echo "tools/test.sh: cannot start PostgreSQL for the tests (LANGGRAPH_TEST_POSTGRES=0 skips them)" >&2
    exit 1
  fi
  eval "$server"
  pg_dir=$LANGGRAPH_TEST_POSTGRES_DIR
fi

ctest --test-dir build --output-on-failure --timeout 900 "$@"

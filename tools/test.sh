#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests (doctest) and the
# end-to-end tests that drive the real binary with the official JS SDK (one CTest run).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
cd build
ctest --output-on-failure --timeout 900 "$@"

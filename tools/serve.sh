#!/usr/bin/env bash
# Installs what is missing, builds, and starts the server on the default langgraph.json.
# Extra arguments go to the server, e.g. tools/serve.sh --port 8123.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --build-only
tools/build.sh
exec build/langgraph-server --config langgraph.json "$@"

#!/usr/bin/env bash
# Installs, from Debian's archive, whatever this project needs to build and test and is missing.
# Idempotent: does nothing when everything is there. Needs root (or sudo) only to install.
# Usage: tools/install-deps.sh [--build-only | --bench]
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # toolchain
  libcpp-httplib-dev                 # HTTP client (JWT plugin, tests), URL decoding
  nlohmann-json3-dev                 # JSON
  libboost-dev libboost-filesystem-dev  # Boost.Beast (HTTP server), Boost.DLL (plugin loading)
  libfmt-dev                         # formatting
  uuid-dev                           # UUIDv5 and UUID parsing (libuuid)
  libgoogle-perftools-dev            # the server's memory allocator (tcmalloc_minimal)
  libssl-dev                         # SHA-256 in tests; cpp-httplib's pkg-config flags need it
  doctest-dev                        # unit tests
  libsqlite3-dev                     # SQLite storage, the embedded default (libsqlite3)
  libpq-dev                          # PostgreSQL storage (libpq)
  libhowardhinnant-date-dev          # IANA time zones of cron schedules (date/tz.h, libdate-tz)
  postgresql                         # a private PostgreSQL server for the storage tests
  nodejs npm                         # end-to-end tests with the official JS SDK
  iproute2                           # `ss`, used by a test to read the listen backlog
  openssl                            # CLI: the auth_jwt end-to-end test makes its own test CA
  chromium                           # headless browser for the /docs page test
)
build_only=(build-essential cmake pkg-config libcpp-httplib-dev nlohmann-json3-dev libboost-dev
            libboost-filesystem-dev libfmt-dev uuid-dev libssl-dev doctest-dev libsqlite3-dev
            libpq-dev libhowardhinnant-date-dev libgoogle-perftools-dev)
case "${1:-}" in
  --build-only) packages=("${build_only[@]}") ;;
  --bench) packages=("${build_only[@]}" wrk curl postgresql) ;;  # what tools/bench/*.sh need
esac

missing=()
for p in "${packages[@]}"; do
  # node/npm may come from elsewhere than Debian (nvm, nodesource): a working binary is enough.
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing missing packages: ${missing[*]}"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

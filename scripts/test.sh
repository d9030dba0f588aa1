#!/usr/bin/env bash
# The test command: formatting, lints, the pure-Rust unit tests, the in-database tests, the
# end-to-end suite over HTTP, and a short fuzzing run. Installs what it needs (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step setup
scripts/setup.sh

step "rustfmt --check"
cargo fmt --all -- --check

step "documentation (scripts/check-docs.sh: links, anchors, wording, the config files e2e runs)"
scripts/check-docs.sh

step "clippy -D warnings"
cargo clippy --workspace --all-targets --features "pg15 pg_test" -- -D warnings

step "unit tests (auth-core)"
cargo test -p auth-core

step "in-database tests (cargo pgrx test pg15)"
# initdb refuses root: the test cluster runs as postgres, in a folder postgres owns. The lock keeps
# two runs on this machine from sharing pgrx's port and install directory.
mkdir -p target/pgrx-test
chown postgres: target/pgrx-test
flock target/.pgrx-test.lock cargo pgrx test pg15 --runas postgres --pgdata "$PWD/target/pgrx-test/data"

step "upgrade test (scripts/upgrade-test.sh: a 0.1.0 database through the new library and ALTER EXTENSION UPDATE)"
scripts/upgrade-test.sh --pg-config /usr/lib/postgresql/15/bin/pg_config

step "end-to-end suite (e2e/: PostgreSQL 15 + PostgREST 12.0.2 + Caddy + nginx, over HTTP and SQL)"
# The suite runs the extension installed in PostgreSQL's shared directories. Build everything
# first without the lock, then install and run the suite under one hold of the lock, so that no
# pgrx test elsewhere on this machine replaces auth.so under the running cluster.
cargo pgrx package --pg-config /usr/lib/postgresql/15/bin/pg_config >/dev/null
cargo test -p e2e --no-run
AUTH_E2E_LOCK_HELD=1 flock -o target/.pgrx-test.lock sh -c \
  'cargo pgrx install --release --pg-config /usr/lib/postgresql/15/bin/pg_config >/dev/null && cargo test -p e2e'

step "fuzzing (scripts/fuzz.sh: 20 s per target, stable Rust, no sanitizer)"
(cd fuzz && cargo fmt -- --check && cargo clippy --all-targets -- -D warnings)
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

echo
echo "all tests passed"

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

step "fuzzing (scripts/fuzz.sh: 20 s per target, stable Rust, no sanitizer)"
(cd fuzz && cargo fmt -- --check && cargo clippy --all-targets -- -D warnings)
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

echo
echo "all tests passed"

#!/usr/bin/env bash
# The test command: formatting, the documentation check, lints, the pure-Rust unit tests, the
# in-database tests, the upgrade test, the end-to-end suite over HTTP, and a short fuzzing run.
# Installs what it needs (scripts/setup.sh).
#
# PostgreSQL versions (docs/versions.md): clippy for every version's feature set that can be
# compiled here (15, 17, 18; 16 too when a pg_config for 16 is found); the in-database tests
# (`cargo pgrx test pgNN`) and the upgrade test on 15, 17 and 18; the end-to-end suite on 15 and
# 18 (its pg_dump/pg_restore scenario on 15 only: the 17/18 lanes have no pg_dump).
#
# Environment:
#   TEST_PG_VERSIONS   versions for lints, in-database and upgrade tests (default "15 17 18")
#   TEST_E2E_VERSIONS  versions for the end-to-end suite (default "15 18")
#   FUZZ_SECONDS       seconds per fuzz target (default 20)
#   AUTH_LOCK_FILE     the machine-wide install lock (default: target/.pgrx-test.lock of the main
#                      working tree of this repository, so that all its git worktrees share one)
# Builds and tests read pgrx's configuration from this checkout's target/pgrx-home
# (scripts/lib/pg_lane.sh pgrx-home), not from the shared ~/.pgrx. Prints the wall-clock time of
# every step at the end (also when a step fails).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/pg_lane.sh
source scripts/lib/pg_lane.sh

read -ra PG_VERSIONS <<<"${TEST_PG_VERSIONS:-${PG_LANE_TESTED[*]}}"
read -ra E2E_VERSIONS <<<"${TEST_E2E_VERSIONS:-15 18}"
if [ -z "${AUTH_LOCK_FILE:-}" ]; then
  common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  case $common in
    */.git) AUTH_LOCK_FILE=$(dirname "$common")/target/.pgrx-test.lock ;;
    *) AUTH_LOCK_FILE=$PWD/target/.pgrx-test.lock ;;
  esac
fi
# The e2e suite, scripts/upgrade-test.sh and scripts/lib/cluster.sh read it too.
export AUTH_LOCK_FILE
LOCK=$AUTH_LOCK_FILE

# --- steps and their wall-clock times ---
STEP_NAMES=()
STEP_SECS=()
STEP_T0=
T_START=$SECONDS
step_done() {
  if [ -n "$STEP_T0" ]; then STEP_SECS+=($((SECONDS - STEP_T0))); fi
  STEP_T0=
}
step() {
  step_done
  STEP_NAMES+=("$*")
  STEP_T0=$SECONDS
  printf '\n== %s\n' "$*"
}
fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
report_times() {
  local rc=$? i
  step_done
  printf '\n== wall-clock time per step\n'
  for i in "${!STEP_NAMES[@]}"; do
    printf '  %8s  %s%s\n' "$(fmt_secs "${STEP_SECS[$i]:-0}")" "${STEP_NAMES[$i]}" \
      "$( ((rc != 0 && i == ${#STEP_NAMES[@]} - 1)) && echo '  (FAILED)')"
  done
  printf '  %8s  total\n' "$(fmt_secs $((SECONDS - T_START)))"
  exit "$rc"
}
trap report_times EXIT

# Runs a command holding the install lock: `cargo pgrx install` and `cargo pgrx test` write auth.so
# and auth--*.sql into the server's directories (shared by every checkout for 15), pgrx's test
# ports and ~/.pgrx/config.toml are machine-wide. -o: the command's children never hold the lock.
locked() {
  mkdir -p "$(dirname "$LOCK")"
  flock -o "$LOCK" "$@"
}

# Clippy for one feature set: every PostgreSQL version compiles its own bindings.
lint() {
  local v=$1
  cargo clippy --workspace --all-targets --no-default-features --features "pg$v pg_test" -- -D warnings
}

# The in-database tests on PostgreSQL $1: `cargo pgrx test pgNN`, against the pg_config that
# $PGRX_HOME/config.toml names for NN. initdb refuses root: the test cluster runs as postgres, in
# a folder postgres owns.
indb_suite() {
  local v=$1
  pg_lane_describe "$v"
  mkdir -p target/pgrx-test
  chown postgres: target/pgrx-test
  locked cargo pgrx test "pg$v" --runas postgres --pgdata "$PWD/target/pgrx-test/data-$v"
}

# The upgrade test on PostgreSQL $1 (scripts/upgrade-test.sh: a database of the released version
# through the new library and ALTER EXTENSION UPDATE, then the in-database suite on the updated
# schema). It takes the install lock itself, after its builds.
upgrade_suite() {
  scripts/upgrade-test.sh --pg-config "$(pg_lane_pg_config "$1")"
}

# The end-to-end suite on PostgreSQL $1 (e2e/: that server + PostgREST 12.0.2 + Caddy + nginx, over
# HTTP and SQL; e2e/src/stack.rs reads the server from $PG_CONFIG). The suite runs the extension
# installed in the server's directories: everything is built first without the lock, then the
# install and the suite run under one hold of it, so that no pgrx test elsewhere on this machine
# replaces auth.so under the running cluster.
e2e_suite() {
  local v=$1 pgc
  pgc=$(pg_lane_pg_config "$v")
  pg_lane_describe "$v"
  cargo pgrx package --pg-config "$pgc" >/dev/null
  cargo test -p e2e --no-run
  # shellcheck disable=SC2016 # expanded by the inner sh
  PG_CONFIG=$pgc AUTH_E2E_LOCK_HELD=1 locked sh -c \
    'cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null && exec cargo test -p e2e -- --nocapture'
}

step setup
scripts/setup.sh
PGRX_HOME=$(pg_lane_pgrx_home)
export PGRX_HOME
echo "pgrx home: $PGRX_HOME"

step "rustfmt --check"
cargo fmt --all -- --check

step "documentation (scripts/check-docs.sh: links, anchors, wording, the config files e2e runs)"
scripts/check-docs.sh

for v in "${PG_VERSIONS[@]}"; do
  step "clippy -D warnings (features pg$v pg_test)"
  lint "$v"
done
if pg16=$( (pg_lane_pg_config 16) 2>/dev/null); then
  step "clippy -D warnings (features pg16 pg_test; $pg16)"
  lint 16
else
  printf '\nPostgreSQL 16: no pg_config on this machine (set PG_CONFIG_16 to build it), not compiled.\n'
fi

step "unit tests (auth-core)"
cargo test -p auth-core

for v in "${PG_VERSIONS[@]}"; do
  step "in-database tests on PostgreSQL $v (cargo pgrx test pg$v)"
  indb_suite "$v"

  step "upgrade test on PostgreSQL $v (scripts/upgrade-test.sh: a 0.1.0 database through the new library and ALTER EXTENSION UPDATE)"
  upgrade_suite "$v"

  # ---- Further per-version suites go here: every test of the extension inside PostgreSQL that
  # ---- must pass on each supported version, as a function of the version like indb_suite and
  # ---- upgrade_suite above, called as `step "..."; <suite> "$v"`.
done

for v in "${E2E_VERSIONS[@]}"; do
  step "end-to-end suite on PostgreSQL $v (PostgREST 12.0.2 + Caddy + nginx, over HTTP and SQL)"
  e2e_suite "$v"
done

step "fuzzing (scripts/fuzz.sh: ${FUZZ_SECONDS:-20} s per target, stable Rust, no sanitizer)"
(cd fuzz && cargo fmt -- --check && cargo clippy --all-targets -- -D warnings)
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

echo
echo "all tests passed (PostgreSQL ${PG_VERSIONS[*]}; end-to-end on ${E2E_VERSIONS[*]})"

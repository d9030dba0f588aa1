#!/usr/bin/env bash
# The upgrade test: a database made by the released version of auth must keep working with the new
# build, and ALTER EXTENSION auth UPDATE must bring it to exactly what a fresh install of the new
# version is. Run as root, for one PostgreSQL installation:
#
#   scripts/upgrade-test.sh [--pg-config PATH]      (default /usr/bin/pg_config)
#
#   1. Build the released version (RELEASED_VERSION, from git commit RELEASED_COMMIT) with
#      `cargo pgrx package`, cached in target/upgrade/ by commit, PostgreSQL major and profile.
#   2. Released scripts never change. sql/released.sha256 (sha256sum format: "<sha256>  <file>")
#      lists every released script:
#        install scripts (auth--V.sql): pgrx generates them, nothing under sql/ holds them; the one
#          of RELEASED_VERSION must hash as listed when regenerated from RELEASED_COMMIT (a pgrx
#          upgrade or a changed build that alters it fails here);
#        update scripts (auth--V1--V2.sql): hand-written in sql/; each listed one must be in sql/
#          and hash as listed. When a version ships, add its update script (for 0.2.0:
#          `(cd sql && sha256sum auth--0.1.0--0.2.0.sql >>released.sha256)`).
#   3. Install the released files into PostgreSQL's directories, start a throwaway cluster
#      (scripts/lib/cluster.sh) with auth preloaded, CREATE EXTENSION auth VERSION RELEASED_VERSION
#      and fill it as an application would (scripts/lib/upgrade/fill.sql: roles and grants, users,
#      logins, a refresh, a logout, failed logins, API tokens, API keys), recording every row.
#   4. Install the new build (auth.so, control, auth--NEW.sql, the update scripts of sql/),
#      restart the cluster so the preloaded library reloads, and before any update check the old
#      SQL with the new library (scripts/lib/upgrade/before_update.sql): its C functions resolve,
#      login, refresh_token, jwt_sign/jwt_verify, check_request, exchange_api_key work.
#   5. ALTER EXTENSION auth UPDATE TO 'NEW'; every row kept; the sessions, refresh tokens, API
#      tokens and keys made before still work, and the refused ones stay refused
#      (scripts/lib/upgrade/after_update.sql).
#   6. CREATE EXTENSION auth in a second database of the cluster (a fresh NEW) given the same
#      grants as the first (scripts/lib/upgrade/grants.sql: an installation that set up its roles
#      under RELEASED then updated must end where one set up under NEW is), and compare both
#      databases' catalogs for everything of the extension (scripts/lib/extension_catalog.sql):
#      any difference fails, with the diff. Column order counts (ALTER TABLE ADD COLUMN appends:
#      a fresh install must create a new column last too). To see this check fail, run with
#      UPGRADE_TEST_BREAK=catalog: the fresh database then gets one function changed (ALTER
#      FUNCTION auth.claims() VOLATILE) before the comparison.
#   7. The in-database suite (`cargo pgrx test pgNN`) on an updated schema: CARGO_PGRX names
#      scripts/lib/upgrade/cargo-pgrx-upgraded.sh, which after pgrx's install leaves
#      auth--RELEASED.sql (released) and auth--RELEASED--NEW.sql (sql/ + the test objects) and no
#      auth--NEW.sql, so pgrx's CREATE EXTENSION auth goes through the update path.
# Steps 1 to 5 stop the run at the first failure; steps 6 and 7 both run and report. Exits
# non-zero on any failure; the cluster is stopped on every exit (logs kept in
# target/upgrade-pgNN/ on failure).
#
# Shared resources: installing into PostgreSQL's directories (steps 3, 4, 7) happens under the
# machine-wide lock AUTH_LOCK_FILE (default: target/.pgrx-test.lock of the main working tree of
# this repository, so that all its git worktrees share one lock), held from the first install to
# the end of the run. Nothing is restored afterwards: the next user installs what they need.
# Builds run before the lock is taken.
#
# Environment: UPGRADE_PROFILE (cargo profile of every build here, default dev: the generated SQL
# does not depend on it — dev and release builds of 0.1.0 generate the same auth--0.1.0.sql — and
# the release profile is a fat-LTO build many times slower),
# UPGRADE_TEST_BREAK=catalog (see step 6), CLUSTER_KEEP=1 (keep the cluster's data),
# CARGO_TARGET_DIR (honoured by every build here).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The release whose databases must upgrade.
RELEASED_VERSION=0.1.0
RELEASED_COMMIT=c2e9200c1c959abb7e72e71303cac53c36814bb2
MANIFEST=sql/released.sha256
PROFILE=${UPGRADE_PROFILE:-dev}

PG_CONFIG=/usr/bin/pg_config
while [ $# -gt 0 ]; do
  case $1 in
  --pg-config)
    [ $# -ge 2 ] || { echo "--pg-config needs a path" >&2; exit 2; }
    PG_CONFIG=$2
    shift 2
    ;;
  --pg-config=*)
    PG_CONFIG=${1#--pg-config=}
    shift
    ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "unknown argument: $1 (usage: scripts/upgrade-test.sh [--pg-config PATH])" >&2
    exit 2
    ;;
  esac
done

T0=$SECONDS
STEP_T0=$SECONDS
STEP_NAME=
TIMINGS=()
FAILURES=()
step() {
  if [ -n "$STEP_NAME" ]; then TIMINGS+=("$(printf '%5ss  %s' $((SECONDS - STEP_T0)) "$STEP_NAME")"); fi
  STEP_NAME=$*
  STEP_T0=$SECONDS
  printf '\n==== upgrade test (PostgreSQL %s): %s\n' "${PG_MAJOR:-?}" "$*"
}
say() { printf '[upgrade-test] %s\n' "$*"; }
die() {
  printf '\n[upgrade-test] FAILED (%s): %s\n' "${STEP_NAME:-setup}" "$*" >&2
  exit 1
}

[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG"
PG_MAJOR=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
[ -n "$PG_MAJOR" ] || die "cannot read the PostgreSQL version from $PG_CONFIG --version"
# Debian's /usr/bin/pg_config is a wrapper; the server's programs are in --bindir.
PGBIN=$("$PG_CONFIG" --bindir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
[ -x "$PGBIN/initdb" ] || die "no initdb in $PGBIN (the server package of PostgreSQL $PG_MAJOR is not installed)"
command -v cargo-pgrx >/dev/null || die "cargo-pgrx is not installed (scripts/setup.sh)"

# One lock for every worktree of this repository (cluster.sh's default is this checkout's).
if [ -z "${AUTH_LOCK_FILE:-}" ]; then
  common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  case $common in
  */.git) AUTH_LOCK_FILE=$(dirname "$common")/target/.pgrx-test.lock ;;
  *) AUTH_LOCK_FILE=$ROOT/target/.pgrx-test.lock ;;
  esac
fi
mkdir -p "$(dirname "$AUTH_LOCK_FILE")"
export AUTH_LOCK_FILE PG_CONFIG PGBIN
# shellcheck source=scripts/lib/cluster.sh
source scripts/lib/cluster.sh

# On every exit: the timings, then cluster.sh's cleanup (stops the cluster if one was started,
# keeps its logs on failure) with our exit status.
upgrade_cleanup() {
  local rc=$?
  trap - EXIT
  if [ -n "$STEP_NAME" ]; then TIMINGS+=("$(printf '%5ss  %s' $((SECONDS - STEP_T0)) "$STEP_NAME")"); fi
  if ((${#TIMINGS[@]})); then
    printf '\n==== upgrade test (PostgreSQL %s): timings\n' "$PG_MAJOR"
    printf '%s\n' "${TIMINGS[@]}"
    printf '%5ss  total\n' $((SECONDS - T0))
  fi
  set +e # errexit would end this handler at the next line
  (exit "$rc")
  cluster_cleanup
}
trap upgrade_cleanup EXIT

UP=$ROOT/target/upgrade
WORK=$UP/run-pg$PG_MAJOR
rm -rf "$WORK"
mkdir -p "$WORK"

# cargo pgrx reads its PostgreSQL installations from $PGRX_HOME/config.toml, and `cargo pgrx test
# pgNN` tests against the one named pgNN there. A private one names only this installation, so
# every cargo pgrx command here (the test too) uses exactly PG_CONFIG, whatever the shared
# ~/.pgrx/config.toml holds. Rewritten only when it changes: pgrx-pg-sys's build script reruns
# when the config file it last read changes.
export PGRX_HOME=$UP/pgrx-home-pg$PG_MAJOR
pgrx_config=$(printf '[configs]\npg%s = "%s"' "$PG_MAJOR" "$PG_CONFIG")
mkdir -p "$PGRX_HOME"
[ "$(cat "$PGRX_HOME/config.toml" 2>/dev/null)" = "$pgrx_config" ] || echo "$pgrx_config" >"$PGRX_HOME/config.toml"

# cargo names a cdylib's output deps/libauth.so with no hash: the released crate, the new one and
# its test-mode build all write that one file, and a build cargo deems fresh packages whatever the
# last one left there. Removing it before each package forces that build's own link (the crate
# recompiles incrementally, the dependencies are shared).
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
profile_dir=$PROFILE
[ "$PROFILE" != dev ] || profile_dir=debug
own_cdylib() { rm -f "$TARGET_DIR/$profile_dir/deps/libauth.so" "$TARGET_DIR/$profile_dir/libauth.so"; }

# ---------------------------------------------------------------------------------------------
step "1. build $RELEASED_VERSION from git commit ${RELEASED_COMMIT:0:12} (cargo pgrx package, profile $PROFILE)"
git cat-file -e "$RELEASED_COMMIT^{commit}" 2>/dev/null ||
  die "commit $RELEASED_COMMIT ($RELEASED_VERSION) is not in this clone (fetch the full history)"
RELEASED=$UP/auth-$RELEASED_VERSION-${RELEASED_COMMIT:0:12}-pg$PG_MAJOR-$PROFILE
if [ -f "$RELEASED/complete" ]; then
  say "cached: $RELEASED"
else
  src=$UP/src-${RELEASED_COMMIT:0:12}
  rm -rf "$src" "$RELEASED"
  mkdir -p "$src"
  git archive "$RELEASED_COMMIT" | tar -x -C "$src"
  say "building in $src (target directory $TARGET_DIR, shared with this checkout's builds)"
  # The same target directory as this checkout's builds: only the two path crates rebuild.
  own_cdylib
  (cd "$src" && CARGO_TARGET_DIR=$TARGET_DIR cargo pgrx package --pg-config "$PG_CONFIG" \
    --profile "$PROFILE" --out-dir "$src/pkg" >"$WORK/build-$RELEASED_VERSION.log" 2>&1) || {
    tail -30 "$WORK/build-$RELEASED_VERSION.log" >&2
    die "cargo pgrx package of $RELEASED_VERSION failed (log: $WORK/build-$RELEASED_VERSION.log)"
  }
  mkdir -p "$RELEASED"
  cp "$src/pkg$PKGLIBDIR/auth.so" "$src/pkg$EXTDIR/auth.control" \
    "$src/pkg$EXTDIR/auth--$RELEASED_VERSION.sql" "$RELEASED/"
  grep -qx "default_version = '$RELEASED_VERSION'" "$RELEASED/auth.control" ||
    die "the control file built from $RELEASED_COMMIT is not version $RELEASED_VERSION"
  touch "$RELEASED/complete"
  rm -rf "$src"
fi
RELEASED_SQL=$RELEASED/auth--$RELEASED_VERSION.sql

# ---------------------------------------------------------------------------------------------
step "2. released scripts never change ($MANIFEST)"
[ -f "$MANIFEST" ] || die "$MANIFEST is missing"
released_sha=$(sha256sum <"$RELEASED_SQL" | cut -d' ' -f1)
listed=0
while read -r sha file rest; do
  case $sha in '' | '#'*) continue ;; esac
  if [ -n "$rest" ] || ! [[ $sha =~ ^[0-9a-f]{64}$ ]]; then
    die "$MANIFEST: not a '<sha256>  <file>' line: $sha $file $rest"
  fi
  case $file in
  auth--"$RELEASED_VERSION".sql)
    listed=1
    # Not kept as the cached build: the next run builds again.
    [ "$released_sha" = "$sha" ] || rm -f "$RELEASED/complete"
    [ "$released_sha" = "$sha" ] || die "the install script regenerated from $RELEASED_COMMIT differs from the released one:
  $MANIFEST: $sha  $file
  generated:           $released_sha  $RELEASED_SQL
A released script must never change: did the pgrx version or a build setting change? (the build
is in $RELEASED; the next run builds it again)"
    say "$file: regenerated from ${RELEASED_COMMIT:0:12}, hash as released"
    ;;
  auth--*--*.sql)
    [ -f "sql/$file" ] || die "$file is a released update script ($MANIFEST) but sql/$file is gone: it must stay"
    [ "$(sha256sum <"sql/$file" | cut -d' ' -f1)" = "$sha" ] ||
      die "sql/$file was released and has changed since (hash differs from $MANIFEST): write a new update script instead"
    say "sql/$file: hash as released"
    ;;
  auth--*.sql) say "$file: install script of another release, not regenerated here" ;;
  *) die "$MANIFEST: $file is not an auth script name" ;;
  esac
done <"$MANIFEST"
[ "$listed" = 1 ] || die "$MANIFEST does not list auth--$RELEASED_VERSION.sql (generated: $released_sha)"

# ---------------------------------------------------------------------------------------------
step "build the new version (cargo pgrx package, profile $PROFILE: plain, test mode; the test binary)"
NEW=$UP/new-pg$PG_MAJOR
NEW_TEST=$UP/new-test-pg$PG_MAJOR
rm -rf "$NEW" "$NEW_TEST"
own_cdylib
cargo pgrx package --pg-config "$PG_CONFIG" --profile "$PROFILE" --out-dir "$NEW" \
  >"$WORK/build-new.log" 2>&1 || {
  tail -30 "$WORK/build-new.log" >&2
  die "cargo pgrx package failed (log: $WORK/build-new.log)"
}
NEW_VERSION=$(sed -n "s/^default_version = '\(.*\)'\$/\1/p" "$NEW$EXTDIR/auth.control")
[ -n "$NEW_VERSION" ] || die "no default_version in the new control file"
[ "$NEW_VERSION" != "$RELEASED_VERSION" ] || die "the new version is still $RELEASED_VERSION: nothing to update"
UPDATE_SCRIPT=sql/auth--$RELEASED_VERSION--$NEW_VERSION.sql
[ -f "$UPDATE_SCRIPT" ] || die "$UPDATE_SCRIPT is missing: every schema change of $NEW_VERSION goes there"
NEW_SQL=$NEW$EXTDIR/auth--$NEW_VERSION.sql
say "new version $NEW_VERSION, update script $UPDATE_SCRIPT"
# The test-mode build that step 7's `cargo pgrx test` installs, built now (outside the lock), and
# its test objects checked now, to fail early when they cannot be taken out. Built last, so that
# the install of step 7 (which cargo deems fresh) copies this library.
own_cdylib
cargo pgrx package --test --features pg_test --pg-config "$PG_CONFIG" --profile "$PROFILE" \
  --out-dir "$NEW_TEST" >"$WORK/build-new-test.log" 2>&1 || {
  tail -30 "$WORK/build-new-test.log" >&2
  die "cargo pgrx package --test failed (log: $WORK/build-new-test.log)"
}
scripts/lib/upgrade/cargo-pgrx-upgraded.sh --check "$NEW_TEST$EXTDIR/auth--$NEW_VERSION.sql" "$NEW_SQL" \
  "$WORK/test-objects" 2>&1 | sed 's/^\[upgrade-test wrapper\]/[upgrade-test]/' ||
  die "the test objects of the test-mode build cannot be taken out unambiguously"
# And the test binary `cargo pgrx test pgNN` builds (same command line), so that step 7 compiles
# nothing while it holds the lock.
cargo test --no-run --features "pg$PG_MAJOR pg_test" --no-default-features >"$WORK/build-test-binary.log" 2>&1 || {
  tail -30 "$WORK/build-test-binary.log" >&2
  die "cargo test --no-run failed (log: $WORK/build-test-binary.log)"
}

# ---------------------------------------------------------------------------------------------
step "lock PostgreSQL's shared directories ($AUTH_LOCK_FILE)"
auth_lock
say "holding $AUTH_LOCK_FILE until the end of the run"

# ---------------------------------------------------------------------------------------------
step "3. a $RELEASED_VERSION database in use"
install_file() { # src dest-dir [name] — replaced, never rewritten in place (a running server may map it)
  local dest=$2/${3:-$(basename "$1")}
  rm -f "$dest"
  cp "$1" "$dest"
  chmod 0644 "$dest"
}
# Only the released files of auth: no other install script or update script to pick from.
rm -f "$EXTDIR"/auth--*.sql
install_file "$RELEASED/auth.so" "$PKGLIBDIR"
chmod 0755 "$PKGLIBDIR/auth.so"
install_file "$RELEASED/auth.control" "$EXTDIR"
install_file "$RELEASED_SQL" "$EXTDIR"
say "installed $RELEASED_VERSION into $PKGLIBDIR and $EXTDIR"

CLUSTER_NAME=upgrade-pg$PG_MAJOR
cluster_init "$CLUSTER_NAME" "auth.bcrypt_cost = 4"
# cluster_init set its own EXIT trap: ours stops the cluster too (cluster_cleanup).
trap upgrade_cleanup EXIT
cluster_start
psql_db() { # DATABASE [psql args]
  local db=$1
  shift
  cluster_psql -d "$db" -At "$@"
}
cluster_psql -c "CREATE DATABASE auth_upgraded"
psql_db auth_upgraded -c "CREATE EXTENSION auth VERSION '$RELEASED_VERSION'"
psql_db auth_upgraded -f scripts/lib/upgrade/helpers.sql >/dev/null
psql_db auth_upgraded -f scripts/lib/upgrade/fill.sql || die "filling the $RELEASED_VERSION database failed"
started_before=$(psql_db auth_upgraded -c "SELECT pg_postmaster_start_time()")

# ---------------------------------------------------------------------------------------------
step "4. the new library under the $RELEASED_VERSION schema"
rm -f "$EXTDIR"/auth--*.sql
install_file "$NEW$PKGLIBDIR/auth.so" "$PKGLIBDIR"
chmod 0755 "$PKGLIBDIR/auth.so"
install_file "$NEW$EXTDIR/auth.control" "$EXTDIR"
install_file "$NEW_SQL" "$EXTDIR"
for f in sql/auth--*--*.sql; do install_file "$f" "$EXTDIR"; done
# auth--RELEASED.sql stays out: step 5 updates, it never installs the old version again.
say "installed $NEW_VERSION (auth.so, auth.control, auth--$NEW_VERSION.sql, $(cd sql && echo auth--*--*.sql))"
cluster_stop
cluster_start
[ "$(psql_db auth_upgraded -c "SELECT pg_postmaster_start_time()")" != "$started_before" ] ||
  die "the server did not restart"
cmp -s "$PKGLIBDIR/auth.so" "$NEW$PKGLIBDIR/auth.so" || die "$PKGLIBDIR/auth.so is not the new build"
say "server restarted with the new auth.so preloaded"
psql_db auth_upgraded -v from_version="$RELEASED_VERSION" -f scripts/lib/upgrade/before_update.sql ||
  die "the new library breaks a database still at $RELEASED_VERSION"

# ---------------------------------------------------------------------------------------------
step "5. ALTER EXTENSION auth UPDATE TO '$NEW_VERSION'"
psql_db auth_upgraded -c "ALTER EXTENSION auth UPDATE TO '$NEW_VERSION'" ||
  die "ALTER EXTENSION auth UPDATE TO '$NEW_VERSION' failed ($UPDATE_SCRIPT)"
psql_db auth_upgraded -v to_version="$NEW_VERSION" -f scripts/lib/upgrade/after_update.sql ||
  die "the database updated by $UPDATE_SCRIPT lost data or broke what was made before"

# ---------------------------------------------------------------------------------------------
step "6. updated schema = fresh $NEW_VERSION schema (catalog comparison)"
cluster_psql -c "CREATE DATABASE auth_fresh"
psql_db auth_fresh -c "CREATE EXTENSION auth"
psql_db auth_fresh -f scripts/lib/upgrade/grants.sql >/dev/null
if [ "${UPGRADE_TEST_BREAK:-}" = catalog ]; then
  say "UPGRADE_TEST_BREAK=catalog: auth.claims() made VOLATILE in the fresh database; this step must fail"
  psql_db auth_fresh -c "ALTER FUNCTION auth.claims() VOLATILE"
fi
psql_db auth_upgraded -v ext=auth -f scripts/lib/extension_catalog.sql >"$WORK/catalog-updated.txt"
psql_db auth_fresh -v ext=auth -f scripts/lib/extension_catalog.sql >"$WORK/catalog-fresh.txt"
grep -qx "extension auth: version $NEW_VERSION" "$WORK/catalog-fresh.txt" ||
  die "the catalog query found no extension auth $NEW_VERSION in the fresh database"
say "$(wc -l <"$WORK/catalog-fresh.txt") catalog lines each ($WORK/catalog-{updated,fresh}.txt)"
if diff -u --label "updated: $RELEASED_VERSION + $UPDATE_SCRIPT" --label "fresh: CREATE EXTENSION auth ($NEW_VERSION)" \
  "$WORK/catalog-updated.txt" "$WORK/catalog-fresh.txt" >"$WORK/catalog.diff"; then
  say "the updated database and the fresh one hold the same extension objects, definitions and privileges"
else
  cat "$WORK/catalog.diff"
  printf '\n[upgrade-test] the database updated from %s by %s differs from a fresh %s install\n' \
    "$RELEASED_VERSION" "$UPDATE_SCRIPT" "$NEW_VERSION"
  printf '[upgrade-test] lines with - are only in the updated database, lines with + only in the fresh one:\n'
  printf '[upgrade-test] %s must create, change or drop them (diff: %s)\n' "$UPDATE_SCRIPT" "$WORK/catalog.diff"
  FAILURES+=("6. the updated schema differs from a fresh $NEW_VERSION ($(grep -c '^[-+][^-+]' "$WORK/catalog.diff") lines, $WORK/catalog.diff)")
fi
cluster_stop

# ---------------------------------------------------------------------------------------------
step "7. the in-database suite on a schema made by auth--$RELEASED_VERSION.sql + $UPDATE_SCRIPT"
PGRX_DATA=$UP/pgrx-pg$PG_MAJOR
rm -rf "$PGRX_DATA"
mkdir -p "$PGRX_DATA"
chown postgres: "$PGRX_DATA"
if CARGO_PGRX=$ROOT/scripts/lib/upgrade/cargo-pgrx-upgraded.sh \
  UPGRADE_FROM_VERSION=$RELEASED_VERSION UPGRADE_RELEASED_SQL=$RELEASED_SQL \
  UPGRADE_RELEASED_SHA256=$released_sha UPGRADE_PLAIN_SQL=$NEW_SQL UPGRADE_WORK_DIR=$WORK/pgrx-install \
  cargo pgrx test "pg$PG_MAJOR" --runas postgres --pgdata "$PGRX_DATA" 9>&- 2>&1 | tee "$WORK/pgrx-test.log"; then
  say "the in-database suite passes on the updated schema"
else
  printf '\n[upgrade-test] the in-database suite FAILED on a schema made by auth--%s.sql (released) + %s\n' \
    "$RELEASED_VERSION" "$UPDATE_SCRIPT"
  printf '[upgrade-test] a test that passes on a fresh install (scripts/test.sh) and fails here uses something of %s\n' "$NEW_VERSION"
  printf '[upgrade-test] that %s does not create or change; failed tests:\n' "$UPDATE_SCRIPT"
  grep -E '^test .* FAILED$' "$WORK/pgrx-test.log" | head -40 || true
  printf '[upgrade-test] their errors (count, message):\n'
  sed 's/\x1b\[[0-9;]*m//g' "$WORK/pgrx-test.log" | grep -oE '(ERROR|FATAL|PANIC):  .*|assertion .*failed.*' |
    sort | uniq -c | sort -rn | head -20 || true
  FAILURES+=("7. the in-database suite failed on the updated schema ($WORK/pgrx-test.log)")
fi

# ---------------------------------------------------------------------------------------------
if ((${#FAILURES[@]})); then
  printf '\n[upgrade-test] FAILED:\n'
  printf '  %s\n' "${FAILURES[@]}"
  exit 1
fi
printf '\n[upgrade-test] passed: %s databases update to %s (PostgreSQL %s)\n' "$RELEASED_VERSION" "$NEW_VERSION" "$PG_MAJOR"

#!/usr/bin/env bash
# CARGO_PGRX of `cargo pgrx test` in scripts/upgrade-test.sh (step 7): the in-database suite on a
# schema made by the released install script plus the update script, instead of a fresh install.
#
# pgrx-tests installs the extension by running `$CARGO_PGRX pgrx install --test --pg-config PATH
# [--sudo] [--features ...]`, then runs `CREATE EXTENSION auth CASCADE` in its test cluster. This
# runs that install with the real cargo, then rewrites the extension directory of PATH:
#   auth--FROM.sql          the released install script (hash-checked by upgrade-test.sh)
#   auth--FROM--TO.sql      the update script cargo pgrx just installed from sql/, followed by the
#                           test objects of the generated test-mode auth--TO.sql (the #[pg_test]
#                           functions, their schema `tests` and the extension_sql! blocks of
#                           pgrx_tests/), taken out by pgrx_entities.awk
#   auth--TO.sql            removed, with any other install script of auth
# so CREATE EXTENSION auth (default_version TO) has one way in: FROM's script, then the update
# script, then the test objects, all inside CREATE EXTENSION.
#
# The test objects are checked before anything is replaced: the generated test-mode script less
# them must equal, entity for entity, the script pgrx generates without pg_test
# ($UPGRADE_PLAIN_SQL); otherwise the extraction is ambiguous and this fails.
#
# `cargo-pgrx-upgraded.sh --check TEST_MODE_SQL PLAIN_SQL DIR` runs only that check (upgrade-test.sh
# does, before its long run).
#
# Environment (set by upgrade-test.sh): UPGRADE_FROM_VERSION, UPGRADE_RELEASED_SQL,
# UPGRADE_RELEASED_SHA256, UPGRADE_PLAIN_SQL, UPGRADE_WORK_DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf '[upgrade-test wrapper] %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# take_test_objects GENERATED PLAIN DIR: writes DIR/test-objects.sql, the test objects of the
# test-mode script GENERATED, after checking that GENERATED less them is PLAIN, entity for entity.
take_test_objects() {
  local generated=$1 plain=$2 dir=$3
  mkdir -p "$dir"
  awk -v mode=tests -f "$here/pgrx_entities.awk" "$generated" >"$dir/test-objects.sql" ||
    die "cannot take the test objects out of $generated"
  [ -s "$dir/test-objects.sql" ] || die "no test objects (pgrx_tests/) in $generated"
  awk -v mode=records -f "$here/pgrx_entities.awk" "$generated" >"$dir/entities-test-mode.txt" ||
    die "cannot split $generated into entities"
  awk -v mode=records -f "$here/pgrx_entities.awk" "$plain" >"$dir/entities-plain.txt" ||
    die "cannot split $plain into entities"
  if ! diff <(grep -v $'^[^\t]*pgrx_tests/' "$dir/entities-test-mode.txt" | sort) \
    <(sort "$dir/entities-plain.txt") >"$dir/entities.diff"; then
    head -40 "$dir/entities.diff" >&2
    die "ambiguous test objects: $generated less its pgrx_tests/ entities differs from the plain script $plain (< test mode, > plain; all in $dir/entities.diff)"
  fi
  summary=$(awk -v mode=summary -f "$here/pgrx_entities.awk" "$generated")
}

# Pre-flight of upgrade-test.sh, before the long run: --check GENERATED PLAIN DIR.
if [ "${1:-}" = --check ]; then
  [ $# -eq 4 ] || die "usage: $0 --check TEST_MODE_SQL PLAIN_SQL DIR"
  take_test_objects "$2" "$3" "$4"
  say "test objects: $summary"
  exit 0
fi

cargo "$@"

# Anything but the test install passes through unchanged.
[ "${1:-}" = pgrx ] && [ "${2:-}" = install ] || exit 0
is_test=
pg_config=
prev=
for arg in "$@"; do
  [ "$prev" = --pg-config ] && pg_config=$arg
  case $arg in
  --test) is_test=1 ;;
  --pg-config=*) pg_config=${arg#--pg-config=} ;;
  esac
  prev=$arg
done
[ -n "$is_test" ] || exit 0
[ -n "$pg_config" ] || die "no --pg-config in: $*"
for v in UPGRADE_FROM_VERSION UPGRADE_RELEASED_SQL UPGRADE_RELEASED_SHA256 UPGRADE_PLAIN_SQL UPGRADE_WORK_DIR; do
  [ -n "${!v:-}" ] || die "$v is not set (this wrapper is run by scripts/upgrade-test.sh)"
done

extdir=$("$pg_config" --sharedir)/extension
to=$(sed -n "s/^default_version = '\(.*\)'\$/\1/p" "$extdir/auth.control")
from=$UPGRADE_FROM_VERSION
generated=$extdir/auth--$to.sql
update=$extdir/auth--$from--$to.sql
[ -n "$to" ] || die "no default_version in $extdir/auth.control"
[ -f "$generated" ] || die "cargo pgrx install wrote no $generated"
[ -f "$update" ] || die "no update script $update: sql/auth--$from--$to.sql must exist"
[ "$(sha256sum <"$UPGRADE_RELEASED_SQL" | cut -d' ' -f1)" = "$UPGRADE_RELEASED_SHA256" ] ||
  die "$UPGRADE_RELEASED_SQL is not the released auth--$from.sql"

mkdir -p "$UPGRADE_WORK_DIR"
cp "$generated" "$UPGRADE_WORK_DIR/generated-test-mode-auth--$to.sql"
take_test_objects "$generated" "$UPGRADE_PLAIN_SQL" "$UPGRADE_WORK_DIR"
tests_sql=$UPGRADE_WORK_DIR/test-objects.sql

{
  cat "$update"
  printf '\n-- ---- test objects of the generated test-mode auth--%s.sql (scripts/upgrade-test.sh) ----\n\n' "$to"
  cat "$tests_sql"
} >"$UPGRADE_WORK_DIR/auth--$from--$to.sql"

for f in "$extdir"/auth--*.sql; do
  case ${f##*/} in auth--*--*) ;; *) rm -f "$f" ;; esac
done
install -m 0644 "$UPGRADE_RELEASED_SQL" "$extdir/auth--$from.sql"
install -m 0644 "$UPGRADE_WORK_DIR/auth--$from--$to.sql" "$update"
say "CREATE EXTENSION auth will run: auth--$from.sql (released) + auth--$from--$to.sql (sql/) + the test objects ($summary)"
say "installed in $extdir; copies in $UPGRADE_WORK_DIR"

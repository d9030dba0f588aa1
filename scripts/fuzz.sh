#!/usr/bin/env bash
# Fuzzes the pure-Rust core (auth-core) with libFuzzer through cargo-fuzz, every target in turn.
#
#   scripts/fuzz.sh                  # the documented longer run: 10 minutes per target
#   scripts/fuzz.sh 20               # N seconds per target (scripts/test.sh runs 20)
#   scripts/fuzz.sh 600 jwt_decode   # some targets only
#
# Runs on stable Rust: `-s none` (the sanitizers need nightly-only flags); `-a` keeps debug
# assertions and integer-overflow checks on. Each target starts from its committed seeds
# (fuzz/seeds/<target>) and grows fuzz/corpus/<target> (git-ignored). A crash stops the run and
# leaves its input in fuzz/artifacts/<target>/: replay it with
#   cargo fuzz run -s none -a <target> fuzz/artifacts/<target>/<file>
# then turn it into a regression unit test in core/ and fix the cause.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

cd fuzz
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none -a
mkdir -p target
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t"
  log="target/fuzz-$t.log"
  printf '[fuzz] %s for %ss (log: fuzz/%s)\n' "$t" "$seconds" "$log"
  # -max_len: the token size bound is 16 KiB, so longer inputs only slow the search.
  # -rss_limit_mb: a leak or a blow-up is a finding too.
  status=0
  cargo fuzz run -s none -a "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -max_len=20000 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/  /' || true
  if ((status)); then
    grep -E -A12 'panicked|ERROR: libFuzzer' "$log" | head -40 >&2
    echo "[fuzz] $t failed (exit $status); the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
echo "[fuzz] no crash"

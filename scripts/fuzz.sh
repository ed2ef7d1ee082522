#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS seconds each (default 60),
# seeded from the example manifests and the admission fixtures. A crash, a panic, an input
# slower than 10 s or a run over 2 GiB stops with the input saved under
# fuzz/artifacts/<target>/ and a failing exit status; turn it into a regression test
# (tests/fuzz_regressions.rs) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=(admission defaults_patch manifest)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
# cargo fuzz needs nightly-only compiler flags; the stable toolchain allows them with this.
export RUSTC_BOOTSTRAP=1
# No sanitizer: the crate's only unsafe call hands freed memory back to the allocator after a
# load, and what is looked for is a panic, an overflow
# (debug assertions are on) or a runaway input, which libFuzzer catches without one.
flags=(--sanitizer none --debug-assertions)

# Seeds are copied from their one home in the repository into the (untracked) corpus.
seed() {
  local target=$1
  shift
  mkdir -p "fuzz/corpus/$target"
  for f in "$@"; do
    [ -f "$f" ] && cp "$f" "fuzz/corpus/$target/seed-${f//\//-}"
  done
  return 0
}
reviews=(examples/admission/*.json tests/fixtures/admission/*.json)
if [ -d ../shared/fixtures/upstream ]; then
  reviews+=(../shared/fixtures/upstream/*.json)
fi
seed admission "${reviews[@]}"
seed defaults_patch "${reviews[@]}"
seed manifest examples/*/*.yaml src/topology/*.yaml

(cd fuzz && cargo fuzz build "${flags[@]}")
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s"
  (cd fuzz && cargo fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
done

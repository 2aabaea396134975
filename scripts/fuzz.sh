#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz + libFuzzer) for a bounded time from its
# seed corpus, and fails when one finds a crash (panic, overflow, sanitizer report,
# timeout or out-of-memory); libFuzzer leaves the input in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                      # every target, 30 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh     # longer runs
#   scripts/fuzz.sh query_params         # some targets only
#
# cargo-fuzz (pinned below) is installed into .cache/cargo-fuzz when missing. It needs
# nightly compiler flags; RUSTC_BOOTSTRAP=1 allows them on the stable toolchain.
# New inputs go to <fuzz target dir>/corpus/<target>; copy what is worth keeping (an input
# that found a bug, once fixed) into fuzz/corpus/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.1
seconds=${FUZZ_SECONDS:-30}
root=$PWD/.cache/cargo-fuzz
if ! "$root/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$root"
fi
export PATH="$root/bin:$PATH"
export RUSTC_BOOTSTRAP=1
# Instrumented builds: never in the workspace's target directory. They live in the
# user's cache, so a new checkout rebuilds only Shoal's own crates, not their
# dependencies (cargo's fingerprints decide what is stale; nothing is keyed by hand).
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/shoal/fuzz-target}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi

# Longest input per target: long enough for a too-deep Query key (32 levels and more,
# refused by Params::check_depth before any recursive decoding).
max_len() {
    echo 4096
}

# Optimized, with debug assertions and overflow checks (-a): without -a, `-O` turns
# them off and an arithmetic overflow would pass unnoticed. 16 codegen units instead of
# cargo-fuzz's 1: Shoal's crate then builds on every core in minutes less, for fuzzing
# that runs somewhat slower per input within the same time box.
flags=(-O -a --codegen-units 16)
(cd fuzz && cargo fuzz build "${flags[@]}")

failed=()
for t in "${targets[@]}"; do
    work=$CARGO_TARGET_DIR/corpus/$t
    mkdir -p "$work" "fuzz/artifacts/$t"
    echo "== fuzz $t for ${seconds}s"
    if ! (cd fuzz && cargo fuzz run "${flags[@]}" "$t" "$work" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len="$(max_len "$t")" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 2>&1 |
        grep -v -e '^"' -e 'recommended dictionary' | tail -n 40); then
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"

#!/usr/bin/env bash
# bench-lb.sh - Shoal's proxy against nginx and HAProxy, with the shared lb-bench harness.
#
# Builds Shoal's standalone proxy (crates/shoal-proxy/examples/standalone.rs) in
# release, starts it pinned to CPU 0 with one thread, round-robin over the harness's
# backends 127.0.0.1:18101,18102, and runs ../shared/tools/lb-bench.sh against it.
# Prints the harness table: Shoal ("ours") with its ratio to nginx, plus the ratio
# to HAProxy computed from the same rounds.
#
# Installs nothing. Needs: nginx, haproxy, wrk, curl, taskset, python3:
#     apt-get update && apt-get install -y nginx haproxy wrk curl
# Extra arguments go to lb-bench.sh (e.g. -d 8 -r 4 -c 64).
# Stops the proxy it started (by PID) on exit.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${LB_BENCH_TOOLS:-$REPO/../shared/tools}"
LISTEN=127.0.0.1:8080
BACKENDS=127.0.0.1:18101,127.0.0.1:18102

die() { echo "bench-lb: $*" >&2; exit 2; }
for t in nginx haproxy wrk curl taskset python3 cargo; do
  command -v "$t" >/dev/null 2>&1 || die "missing $t (apt-get update && apt-get install -y nginx haproxy wrk curl)"
done
[ -x "$TOOLS/lb-bench.sh" ] || die "harness not found at $TOOLS/lb-bench.sh (set LB_BENCH_TOOLS)"

echo "== building Shoal's standalone proxy (release)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
(cd "$REPO" && cargo build --release -p shoal-proxy --example standalone) || die "build failed"
BIN="$TARGET_DIR/release/examples/standalone"
[ -x "$BIN" ] || die "no binary at $BIN"

if [ ! -x "$TOOLS/lb-bench-rs/target/release/rsbackend" ]; then
  echo "== building the harness's Rust backend"
  (cd "$TOOLS/lb-bench-rs" && cargo build --release) || die "lb-bench-rs build failed"
fi

PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

OUT="$(mktemp -t shoal-bench.XXXXXX)"
taskset -c 0 "$BIN" --backends "$BACKENDS" --listen "$LISTEN" --threads 1 2>"$OUT.err" &
PID=$!
for _ in $(seq 1 50); do
  grep -q "listening on" "$OUT.err" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$OUT.err" >&2; die "Shoal proxy exited"; }
  sleep 0.1
done
grep -q "listening on" "$OUT.err" || { cat "$OUT.err" >&2; die "Shoal proxy did not start"; }

"$TOOLS/lb-bench.sh" --ours-pid "$PID" "$@" "http://$LISTEN/" | tee "$OUT"
rc=${PIPESTATUS[0]}

# Shoal vs HAProxy, paired per round like the harness's nginx ratio.
RES="$TOOLS/run/results.tsv"
if [ -f "$RES" ]; then
  python3 - "$RES" <<'PY'
import statistics as st, sys
runs = {}
for ln in open(sys.argv[1]):
    r, t, req, dur, p50, p99, err = ln.split()
    runs[(int(r), t)] = (int(req) / (int(dur) / 1e6), int(p99) / 1e3)
rounds = sorted({r for r, _ in runs})
for peer in ("nginx", "haproxy"):
    rr = [runs[(r, "ours")][0] / runs[(r, peer)][0] for r in rounds if (r, "ours") in runs and (r, peer) in runs]
    pr = [runs[(r, "ours")][1] / runs[(r, peer)][1] for r in rounds if (r, "ours") in runs and (r, peer) in runs]
    if rr:
        print("shoal/%-7s rps ratio: %.2f (rounds %.2f..%.2f)  p99 ratio: %.2f (lower is better)"
              % (peer, st.median(rr), min(rr), max(rr), st.median(pr)))
PY
fi
rm -f "$OUT" "$OUT.err"
exit "$rc"

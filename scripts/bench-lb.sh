#!/usr/bin/env bash
# bench-lb.sh - Shoal's proxy against nginx and HAProxy, with the lb-bench harness (bench/lb-bench).
#
# Builds Shoal's standalone proxy (crates/shoal-proxy/examples/standalone.rs) in
# release, starts it pinned to CPU 0 with one thread, round-robin over the harness's
# backends 127.0.0.1:18101,18102, and runs bench/lb-bench/lb-bench.sh against it.
# Prints the harness table: Shoal ("ours") with its ratio to nginx, plus the ratio
# to HAProxy computed from the same rounds.
#
# Installs nothing. Needs: nginx, haproxy, wrk, curl, taskset, python3:
#     apt-get update && apt-get install -y nginx haproxy wrk curl
# Extra arguments go to lb-bench.sh (e.g. -d 8 -r 4 -c 64).
# Stops the proxy it started (by PID) on exit.
#
# --cpu [-d SECONDS] [-r ROUNDS]: instead of the harness, measure what each proxy
# costs: CPU time (user + system, from /proc) per request, with the same placement
# (2 Rust backends, nginx, HAProxy and Shoal on CPU 0 with one worker each, wrk on
# CPU 1, 64 connections) and nginx/HAProxy configured as the harness configures them,
# on ports 28xxx. On a VM shared with other builds, throughput swings by tens of
# percent between runs while CPU per request moves by a few, so this shows a change
# in the proxy's own cost clearly. Everything it starts is stopped by PID.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${LB_BENCH_TOOLS:-$REPO/bench/lb-bench}"
LISTEN=127.0.0.1:8080
BACKENDS=127.0.0.1:18101,127.0.0.1:18102

die() { echo "bench-lb: $*" >&2; exit 2; }
CPU_MODE=0; CPU_D=5; CPU_R=3
if [ "${1:-}" = "--cpu" ]; then
  CPU_MODE=1; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      -d) CPU_D="${2:-}"; shift 2;;
      -r) CPU_R="${2:-}"; shift 2;;
      *) die "--cpu takes only -d SECONDS and -r ROUNDS";;
    esac
  done
  [[ "$CPU_D" =~ ^[0-9]+$ && "$CPU_R" =~ ^[0-9]+$ ]] && [ "$CPU_D" -ge 1 ] && [ "$CPU_R" -ge 1 ] \
    || die "bad -d/-r"
  [ $((3 * CPU_R * (CPU_D + 1))) -le 540 ] || die "--cpu run would exceed 9 minutes; lower -d/-r"
fi
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
CPU_PIDS=()
CRUN=""
stop_pid() {
  local p="$1"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  fi
}
cleanup() {
  local i
  stop_pid "$PID"
  for ((i = ${#CPU_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${CPU_PIDS[$i]}"; done
  case "$CRUN" in /tmp/shoal-cpu.*) rm -rf "$CRUN";; esac
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ --cpu mode
write_cpu_configs() {  # nginx and HAProxy exactly as lb-bench.sh configures them
  cat >"$CRUN/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $CRUN/nginx.pid;
error_log $CRUN/nginx.err warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $CRUN/tmp/body; proxy_temp_path $CRUN/tmp/proxy;
  fastcgi_temp_path $CRUN/tmp/fcgi; uwsgi_temp_path $CRUN/tmp/uwsgi; scgi_temp_path $CRUN/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  upstream targets {
    server 127.0.0.1:28101 max_fails=1 fail_timeout=5s;
    server 127.0.0.1:28102 max_fails=1 fail_timeout=5s;
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
  }
  server {
    listen 127.0.0.1:28001 backlog=4096;
    location / {
      proxy_pass http://targets;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 2s;
      proxy_buffering on;
    }
  }
}
NGINX
  cat >"$CRUN/haproxy.cfg" <<HAPROXY
global
  nbthread 1
  maxconn 8000
  pidfile $CRUN/haproxy.pid
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 75s
  option http-keep-alive
  option forwardfor
  http-reuse always
  retries 2
  option redispatch 1
frontend fe
  bind 127.0.0.1:28002
  default_backend targets
backend targets
  balance roundrobin
  option httpchk GET /
  default-server inter 1s fall 2 rise 2
  server t1 127.0.0.1:28101 check
  server t2 127.0.0.1:28102 check
HAPROXY
}

ticks() {  # CPU clock ticks (user + system) of a process and its children (nginx's worker)
  local t=0 p v
  for p in "$1" $(pgrep -P "$1"); do
    v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) && t=$((t + ${v:-0}))
  done
  echo "$t"
}

cpu_mode() {
  local rs="$TOOLS/lb-bench-rs/target/release" p t r j t0 t1 out req p99
  CRUN="$(mktemp -d -t shoal-cpu.XXXXXX)" || die "mktemp failed"
  mkdir -p "$CRUN/tmp"
  for p in 28001 28002 28080 28101 28102; do
    ss -Hltn "sport = :$p" 2>/dev/null | grep -q . && die "port $p already in use"
  done
  write_cpu_configs
  for p in 28101 28102; do
    taskset -c 0 "$rs/rsbackend" "$p" 1 >/dev/null 2>&1 &
    CPU_PIDS+=($!)
  done
  sleep 0.3
  taskset -c 0 nginx -p "$CRUN" -c "$CRUN/nginx.conf" -e "$CRUN/nginx.err" &
  CPU_PIDS+=($!)
  local ng=$!
  taskset -c 0 haproxy -db -f "$CRUN/haproxy.cfg" >"$CRUN/haproxy.out" 2>&1 &
  CPU_PIDS+=($!)
  local ha=$!
  taskset -c 0 "$BIN" --backends 127.0.0.1:28101,127.0.0.1:28102 --listen 127.0.0.1:28080 \
    --threads 1 2>"$CRUN/shoal.err" &
  CPU_PIDS+=($!)
  local ours=$!
  sleep 1.5
  declare -A port=([nginx]=28001 [haproxy]=28002 [shoal]=28080)
  declare -A pid=([nginx]=$ng [haproxy]=$ha [shoal]=$ours)
  local order=(nginx haproxy shoal)
  for t in "${order[@]}"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${port[$t]}/")" = 200 ] \
      || die "$t did not answer on port ${port[$t]}"
    timeout 20 taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:${port[$t]}/" >/dev/null
  done
  echo "== CPU per request: $CPU_R rounds x ${CPU_D}s, wrk -c64 on CPU 1, servers on CPU 0"
  : >"$CRUN/cpu.tsv"
  for r in $(seq 1 "$CPU_R"); do
    for j in 0 1 2; do
      t="${order[$(( (j + r - 1) % 3 ))]}"
      t0=$(ticks "${pid[$t]}")
      out=$(timeout $((CPU_D + 15)) taskset -c 1 wrk -t1 -c64 -d"${CPU_D}s" --latency \
        "http://127.0.0.1:${port[$t]}/")
      t1=$(ticks "${pid[$t]}")
      req=$(awk '/requests in/{print $1}' <<<"$out")
      p99=$(awk '$1=="99%"{print $2}' <<<"$out")
      [ -n "$req" ] || die "no wrk result for $t"
      echo "$r $t $req $CPU_D $((t1 - t0)) $p99" >>"$CRUN/cpu.tsv"
    done
  done
  python3 - "$CRUN/cpu.tsv" "$(getconf CLK_TCK)" <<'PY'
import statistics as st, sys
hz = int(sys.argv[2]); cpu = {}
for ln in open(sys.argv[1]):
    r, t, req, d, ticks, p99 = ln.split()
    us = int(ticks) * 1e6 / hz / int(req)
    cpu.setdefault(t, {})[int(r)] = us
    print("round %s %-8s %8.0f req/s  %6.2f us CPU/request  p99 %s" % (r, t, int(req) / int(d), us, p99))
for t in ("nginx", "haproxy", "shoal"):
    print("%-8s CPU per request: median %.2f us" % (t, st.median(cpu[t].values())))
for peer in ("nginx", "haproxy"):
    rs = [cpu["shoal"][r] / cpu[peer][r] for r in cpu["shoal"] if r in cpu[peer]]
    print("shoal/%-7s CPU per request ratio: %.2f (rounds %.2f..%.2f; below 1 is cheaper)"
          % (peer, st.median(rs), min(rs), max(rs)))
PY
}
if [ "$CPU_MODE" = 1 ]; then
  cpu_mode
  exit 0
fi

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

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
#
# --netns (first, before --cpu if both): the targets inside network namespaces, laid
# out like one of Shoal's VPCs (crates/shoal/src/runtime/vpcnet): a router namespace
# holding bridge br0 with 10.213.0.1/16, and two backend namespaces, each with a veth
# eth0 on that bridge (10.213.0.11, 10.213.0.12, default via 10.213.0.1), one Rust
# backend each (port 18101 and 18102; 28101 and 28102 with --cpu). The proxies (Shoal,
# nginx, HAProxy) and wrk run in the router namespace and listen on its loopback, so
# every proxied byte crosses a veth and the bridge. The namespaces are named
# shoalbench-<pid>-router/-be1/-be2; nothing is added to the host's own namespace (no
# link, address or route), and none of the namespaces has a link out of it. On exit,
# whatever way it comes, it stops what it started by PID, then deletes the namespaces.
# Needs iproute2 (ip netns) and root.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${LB_BENCH_TOOLS:-$REPO/bench/lb-bench}"
LISTEN=127.0.0.1:8080
BACKENDS=127.0.0.1:18101,127.0.0.1:18102

die() { echo "bench-lb: $*" >&2; exit 2; }
NETNS_MODE=0
if [ "${1:-}" = "--netns" ]; then NETNS_MODE=1; shift; fi
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
  if ! [[ "$CPU_D" =~ ^[0-9]+$ && "$CPU_R" =~ ^[0-9]+$ ]] || [ "$CPU_D" -lt 1 ] || [ "$CPU_R" -lt 1 ]; then
    die "bad -d/-r"
  fi
  [ $((3 * CPU_R * (CPU_D + 1))) -le 540 ] || die "--cpu run would exceed 9 minutes; lower -d/-r"
fi
for t in nginx haproxy wrk curl taskset python3 cargo; do
  command -v "$t" >/dev/null 2>&1 || die "missing $t (apt-get update && apt-get install -y nginx haproxy wrk curl)"
done
[ -x "$TOOLS/lb-bench.sh" ] || die "harness not found at $TOOLS/lb-bench.sh (set LB_BENCH_TOOLS)"
if [ "$NETNS_MODE" = 1 ]; then
  command -v ip >/dev/null 2>&1 || die "missing ip (apt-get install iproute2)"
  [ "$(id -u)" = 0 ] || die "--netns needs root (ip netns add)"
fi

echo "== building Shoal's standalone proxy (release)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
(cd "$REPO" && cargo build --release -p shoal-proxy --example standalone) || die "build failed"
BIN="$TARGET_DIR/release/examples/standalone"
[ -x "$BIN" ] || die "no binary at $BIN"

# The harness's helpers go where cargo puts them: CARGO_TARGET_DIR (relative to
# lb-bench-rs, as cargo reads it there) if set, else lb-bench-rs/target.
case "${CARGO_TARGET_DIR:-}" in
  "") RSBIN="$TOOLS/lb-bench-rs/target/release";;
  /*) RSBIN="$CARGO_TARGET_DIR/release";;
  *) RSBIN="$TOOLS/lb-bench-rs/$CARGO_TARGET_DIR/release";;
esac
export LB_BENCH_RSBIN="$RSBIN"
echo "== building the harness's Rust backend (release)"
(cd "$TOOLS/lb-bench-rs" && cargo build --release) || die "lb-bench-rs build failed"

PID=""
HPID=""      # the harness
CPU_PIDS=()
CRUN=""
NSES=()      # namespaces made here, deleted on exit
# shellcheck disable=SC2317  # stop_pid and cleanup run from the EXIT trap
stop_pid() {  # stop_pid PID [TENTHS]: TERM, then KILL after TENTHS/10 s (default 3 s)
  local p="$1"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 "${2:-30}"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  fi
}
# shellcheck disable=SC2317
cleanup() {
  local i ns p
  stop_pid "$HPID" 100        # the harness stops its own processes (up to ~3 s)
  stop_pid "$PID"
  for ((i = ${#CPU_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${CPU_PIDS[$i]}"; done
  case "$CRUN" in /tmp/shoal-cpu.*) rm -rf "$CRUN";; esac
  for ((i = ${#NSES[@]} - 1; i >= 0; i--)); do
    ns="${NSES[$i]}"
    # Anything still inside a namespace made here was started by this run: stop it
    # by PID before the namespace goes.
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || echo "bench-lb: could not delete namespace $ns" >&2
  done
  NSES=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ --netns layout
NSP="shoalbench-$$"
RNS="$NSP-router"
NS_SUBNET=10.213.0.0/16
NS_BE_ADDRS=(10.213.0.11 10.213.0.12)
NS=()        # prefix that runs a command in the router namespace (empty: here)
make_netns() {  # the VPC-like layout of the header; every command names its namespace
  local i b
  for b in "$RNS" "$NSP-be1" "$NSP-be2"; do
    [ -e "/run/netns/$b" ] && die "namespace $b already exists"
  done
  ip netns add "$RNS" || die "ip netns add $RNS failed"
  NSES+=("$RNS")
  if ! { ip -n "$RNS" link set lo up &&
    ip -n "$RNS" link add br0 type bridge &&
    ip -n "$RNS" addr add "${NS_SUBNET%.0/16}.1/16" dev br0 &&
    ip -n "$RNS" link set br0 up; }; then
    die "router namespace setup failed"
  fi
  for i in 1 2; do
    b="$NSP-be$i"
    ip netns add "$b" || die "ip netns add $b failed"
    NSES+=("$b")
    if ! { ip -n "$RNS" link add "vbe$i" type veth peer name eth0 netns "$b" &&
      ip -n "$RNS" link set "vbe$i" master br0 up &&
      ip -n "$b" link set lo up &&
      ip -n "$b" addr add "${NS_BE_ADDRS[$((i - 1))]}/16" dev eth0 &&
      ip -n "$b" link set eth0 up &&
      ip -n "$b" route add default via "${NS_SUBNET%.0/16}.1"; }; then
      die "backend namespace $b setup failed"
    fi
  done
  NS=(ip netns exec "$RNS")
  echo "== namespaces: $RNS (br0 ${NS_SUBNET%.0/16}.1/16), $NSP-be1 (${NS_BE_ADDRS[0]}), $NSP-be2 (${NS_BE_ADDRS[1]})"
}
start_ns_backend() {  # start_ns_backend I PORT: rsbackend in backend namespace I, CPU 0
  ip netns exec "$NSP-be$1" taskset -c 0 "$RSBIN/rsbackend" "$2" 1 "${NS_BE_ADDRS[$(($1 - 1))]}" \
    >/dev/null 2>&1 &
}

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
    server $CBE1 max_fails=1 fail_timeout=5s;
    server $CBE2 max_fails=1 fail_timeout=5s;
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
  server t1 $CBE1 check
  server t2 $CBE2 check
HAPROXY
}

ticks() {  # CPU clock ticks (user + system) of a process and its children (nginx's worker)
  local t=0 p v
  for p in "$1" $(pgrep -P "$1"); do
    v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) && t=$((t + ${v:-0}))
  done
  echo "$t"
}

CBE1=127.0.0.1:28101; CBE2=127.0.0.1:28102
cpu_mode() {
  local p t r j t0 t1 out req p99
  CRUN="$(mktemp -d -t shoal-cpu.XXXXXX)" || die "mktemp failed"
  mkdir -p "$CRUN/tmp"
  for p in 28001 28002 28080 28101 28102; do
    "${NS[@]}" ss -Hltn "sport = :$p" 2>/dev/null | grep -q . && die "port $p already in use"
  done
  if [ "$NETNS_MODE" = 1 ]; then
    CBE1="${NS_BE_ADDRS[0]}:28101"; CBE2="${NS_BE_ADDRS[1]}:28102"
  fi
  write_cpu_configs
  if [ "$NETNS_MODE" = 1 ]; then
    start_ns_backend 1 28101; CPU_PIDS+=($!)
    start_ns_backend 2 28102; CPU_PIDS+=($!)
  else
    for p in 28101 28102; do
      taskset -c 0 "$RSBIN/rsbackend" "$p" 1 >/dev/null 2>&1 &
      CPU_PIDS+=($!)
    done
  fi
  sleep 0.3
  "${NS[@]}" taskset -c 0 nginx -p "$CRUN" -c "$CRUN/nginx.conf" -e "$CRUN/nginx.err" &
  CPU_PIDS+=($!)
  local ng=$!
  "${NS[@]}" taskset -c 0 haproxy -db -f "$CRUN/haproxy.cfg" >"$CRUN/haproxy.out" 2>&1 &
  CPU_PIDS+=($!)
  local ha=$!
  "${NS[@]}" taskset -c 0 "$BIN" --backends "$CBE1,$CBE2" --listen 127.0.0.1:28080 \
    --threads 1 2>"$CRUN/shoal.err" &
  CPU_PIDS+=($!)
  local ours=$!
  sleep 1.5
  declare -A port=([nginx]=28001 [haproxy]=28002 [shoal]=28080)
  declare -A pid=([nginx]=$ng [haproxy]=$ha [shoal]=$ours)
  local order=(nginx haproxy shoal)
  for t in "${order[@]}"; do
    [ "$("${NS[@]}" curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${port[$t]}/")" = 200 ] \
      || die "$t did not answer on port ${port[$t]}"
    timeout 20 "${NS[@]}" taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:${port[$t]}/" >/dev/null
  done
  echo "== CPU per request: $CPU_R rounds x ${CPU_D}s, wrk -c64 on CPU 1, servers on CPU 0${NS[*]:+, targets in namespaces}"
  : >"$CRUN/cpu.tsv"
  for r in $(seq 1 "$CPU_R"); do
    for j in 0 1 2; do
      t="${order[$(( (j + r - 1) % 3 ))]}"
      t0=$(ticks "${pid[$t]}")
      out=$(timeout $((CPU_D + 15)) "${NS[@]}" taskset -c 1 wrk -t1 -c64 -d"${CPU_D}s" --latency \
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
[ "$NETNS_MODE" = 1 ] && make_netns
if [ "$CPU_MODE" = 1 ]; then
  cpu_mode
  exit 0
fi

HARGS=()
if [ "$NETNS_MODE" = 1 ]; then
  BACKENDS="${NS_BE_ADDRS[0]}:18101,${NS_BE_ADDRS[1]}:18102"
  start_ns_backend 1 18101; CPU_PIDS+=($!)
  start_ns_backend 2 18102; CPU_PIDS+=($!)
  HARGS=(--netns "$RNS" --backends "$BACKENDS")
fi
OUT="$(mktemp -t shoal-bench.XXXXXX)"
"${NS[@]}" taskset -c 0 "$BIN" --backends "$BACKENDS" --listen "$LISTEN" --threads 1 2>"$OUT.err" &
PID=$!
for _ in $(seq 1 50); do
  grep -q "listening on" "$OUT.err" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$OUT.err" >&2; die "Shoal proxy exited"; }
  sleep 0.1
done
grep -q "listening on" "$OUT.err" || { cat "$OUT.err" >&2; die "Shoal proxy did not start"; }

# In the background, so that a signal to this script alone still stops the harness
# (and through it nginx and HAProxy) before the namespaces go.
"$TOOLS/lb-bench.sh" "${HARGS[@]}" --ours-pid "$PID" "$@" "http://$LISTEN/" > >(tee "$OUT") &
HPID=$!
wait "$HPID"
rc=$?
HPID=""

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

#!/usr/bin/env bash
# How the kernel schedules a proxy and its origin on one core (see docs/performance.md, "Traced
# with the scheduler's tracepoints").
#
#   bash bench/sched.sh [SECONDS]        (default 0.5 s of trace per server)
#
# Pass-through 10 KiB: one nginx origin, edgeway and HAProxy pinned to CPU 0, wrk (1 thread, 64
# connections) on CPU 1. For each server it runs wrk for 3 s and, from the second one, records
# `sched:sched_switch`, `sched:sched_waking` and the exits of recvfrom/writev/sendto/epoll_wait on
# CPU 0 with `perf record`, then prints: requests a second, the server's runs and how they
# ended (preempted or asleep), the median run, and how many runs were one-request ping-pong
# rounds (the origin woken, the server preempted after writing a single request). Needs perf
# with tracepoints, nginx, haproxy and wrk (as bench/run.sh installs); uses $EDGEWAY_BIN or the
# release build. `SCHED_KEEP=1` keeps the traces (`perf script -i` reads them).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-0.5}
source bench/lib/profile.sh
profile_setup sched SCHED_KEEP perf nginx haproxy wrk python3 taskset

mkdir -p "$work/www"
python3 -c "open('$work/www/page10k.html','wb').write((b'<p>edgeway bench page</p>\n'*500)[:10240])"
O=$(port); E=$(port); H=$(port)
start_origin "$O" taskset -c 0
edge_config sched "$E" "$O"
cat > "$work/haproxy.cfg" <<EOT
global
    nbthread 1
    maxconn 4096
    tune.bufsize 16384
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s
    option http-keep-alive
    http-reuse always
frontend main
    bind 127.0.0.1:$H
    default_backend origin
backend origin
    server o1 127.0.0.1:$O
EOT
EDGEWAY_LOG=warn taskset -c 0 "$BIN" --state-dir "$work/state" run -c "$work/edgeway.toml" >"$work/edgeway.out" 2>&1 &
pids+=($!)
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.out" 2>&1 &
pids+=($!)
wait_port "$O"; wait_port "$E"; wait_port "$H"

events=sched:sched_switch,sched:sched_waking
for s in recvfrom writev sendto epoll_wait; do events+=",syscalls:sys_exit_$s"; done
trace() { # name port comm
  taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:$2/page10k.html" >/dev/null
  taskset -c 1 wrk -t1 -c64 -d3s "http://127.0.0.1:$2/page10k.html" >"$work/wrk.$1" &
  local w=$!
  sleep 1
  perf record -q -o "$work/$1.data" -e "$events" -C 0 -- sleep "$SECS" 2>/dev/null
  wait $w
  perf script -i "$work/$1.data" 2>/dev/null >"$work/$1.txt"
  python3 - "$work/$1.txt" "$1" "$3" "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.$1")" <<'PY'
import re, sys
path, name, comm, rps = sys.argv[1:]
runs, cur, last = [], [], None
for line in open(path):
    m = re.search(r'^\s*(\S+)\s+\d+ \[000\] (\d+\.\d+):\s+(\S+): (.*)', line)
    if not m:
        continue
    who, t, ev, rest = m.groups()
    t = float(t)
    if ev == 'sched:sched_switch':
        s = re.search(r'prev_comm=(\S+) .*prev_state=(\S+) ==>', rest)
        if s and s.group(1) == comm and last is not None:
            runs.append(((t - last) * 1e6, s.group(2), cur))
        cur, last = [], t
        continue
    if who != comm:
        continue
    if ev == 'sched:sched_waking':
        cur.append('wake:' + rest.split()[0][5:])
    elif ev.startswith('syscalls:sys_exit_'):
        ret = int(rest.strip(), 16)
        if ret >= 2**63:
            ret -= 2**64
        cur.append((ev.split('_exit_')[1], ret))
pre = [r for r in runs if r[1].startswith('R')]
asleep = [r for r in runs if r[1].startswith('S')]
def small_writes(c):
    return sum(1 for x in c if isinstance(x, tuple) and x[0] in ('writev', 'sendto') and 0 < x[1] < 1000)
pingpong = [r for r in pre if small_writes(r[2]) == 1 and any(str(x).startswith('wake:nginx') for x in r[2])
            and sum(1 for x in r[2] if isinstance(x, tuple) and x[1] >= 1000) == 0]
lens = sorted(r[0] for r in runs) or [0]
print(f"{name:8s} {float(rps):9.0f} req/s  runs {len(runs):5d}: preempted {len(pre):5d}, asleep {len(asleep):4d}; "
      f"median run {lens[len(lens)//2]:6.0f} us; one-request ping-pong rounds {len(pingpong):5d}")
PY
}
# Pinned to one core, edgeway runs one worker: its main thread (docs/performance.md, batch 8).
trace edgeway "$E" edgeway
trace haproxy "$H" haproxy

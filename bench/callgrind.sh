#!/usr/bin/env bash
# Instructions per request on edgeway's hot paths, counted by callgrind (see docs/performance.md).
#
#   bash bench/callgrind.sh [REQUESTS]        (default 2000 per scenario)
#
# Starts one nginx origin and edgeway under callgrind on loopback (free ports), warms each path with
# 400 requests, then counts the edgeway process's instructions over REQUESTS keep-alive requests
# (h2load --h1, 8 connections) and prints instructions per request. Uses $EDGEWAY_BIN or the
# release build. Needs valgrind, nginx (+ the echo module, as bench/run.sh installs) and h2load.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
PROFILE_HINT="apt-get install valgrind nginx-light nghttp2-client"
source bench/lib/profile.sh
profile_setup callgrind CG_KEEP valgrind callgrind_control nginx h2load python3

mkdir -p "$work/www/images" "$work/www/media"
python3 - "$work/www" <<'EOF'
import sys, os
www = sys.argv[1]
def blob(path, n, unit):
    open(os.path.join(www, path), "wb").write((unit * (n // len(unit) + 1))[:n])
blob("images/1k.bin", 1024, bytes(range(256)))
blob("images/100k.bin", 102400, bytes(range(256)))
blob("page10k.html", 10240, b"<p>edgeway bench page</p>\n")
EOF

O=$(port); E=$(port); L=$(port)
start_origin "$O"

edge_config cg "$E" "$O"
cat >> "$work/edgeway.toml" <<EOF

[[distribution.ordered_cache_behavior]]
path_pattern = "/images/*"
target_origin_id = "o1"
viewer_protocol_policy = "allow-all"
cache_policy_id = "UseOriginCacheControlHeaders"

[[load_balancer]]
name = "cg"
bind_address = "127.0.0.1"
idle_timeout = 120

[[load_balancer.listener]]
port = $L
protocol = "HTTP"
default_action = { type = "forward", target_group = "pool" }

[[target_group]]
name = "pool"
protocol = "HTTP"
targets = ["127.0.0.1:$O"]
health_check = { enabled = false }
EOF

EDGEWAY_LOG=warn valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.%p" \
  "$BIN" --workers 1 --state-dir "$work/state" run -c "$work/edgeway.toml" >"$work/edgeway.out" 2>&1 &
ew=$!
pids+=($ew)
wait_port "$O"; wait_port "$E"; wait_port "$L"

count() { # name url
  h2load --h1 -n 400 -c 8 "$2" >/dev/null
  callgrind_control -z "$ew" >/dev/null 2>&1
  callgrind_control -i on "$ew" >/dev/null 2>&1
  h2load --h1 -n "$N" -c 8 "$2" > "$work/h2load.out"
  callgrind_control -i off "$ew" >/dev/null 2>&1
  grep -q "succeeded, 0 errored" "$work/h2load.out" || grep -q "$N succeeded" "$work/h2load.out" \
    || { echo "callgrind: $1 had failed requests:" >&2; cat "$work/h2load.out" >&2; exit 1; }
  callgrind_control -d "$1" "$ew" >/dev/null 2>&1
  local f total
  f=$(ls -t "$work"/cg.*.* | head -1)
  total=$(awk '/^totals:/ {print $2; exit}' "$f")
  printf '%-22s %10d instructions/request\n' "$1" $((total / N))
}

count hit-1k "http://127.0.0.1:$E/images/1k.bin"
count hit-100k "http://127.0.0.1:$E/images/100k.bin"
count pass-10k "http://127.0.0.1:$E/page10k.html"
count alb-forward-10k "http://127.0.0.1:$L/page10k.html"

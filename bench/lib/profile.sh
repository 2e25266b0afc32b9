# Shared by bench/callgrind.sh and bench/sched.sh (sourced from the repository's root).
#
# profile_setup NAME KEEP_VAR TOOL...  checks the tools, builds edgeway unless $EDGEWAY_BIN names
# a binary (sets $BIN), makes the work folder $work, and on exit stops every pid in $pids and
# removes $work unless the variable named KEEP_VAR is set. port prints a free loopback port;
# wait_port PORT waits (60 s at most) until something listens on it. start_origin PORT [CMD...]
# starts one nginx origin (configs/origin-nginx.conf) serving $work/www on PORT, behind CMD
# (e.g. `taskset -c 0`) when given. edge_config ID EDGE_PORT ORIGIN_PORT writes
# $work/edgeway.toml: distribution ID on EDGE_PORT passing everything to that origin (append
# more to the file for other paths).

profile_setup() {
  PROFILE_NAME=$1
  PROFILE_KEEP=$2
  shift 2
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "$PROFILE_NAME: $t is missing${PROFILE_HINT:+ ($PROFILE_HINT)}" >&2; exit 1; }
  done
  BIN=${EDGEWAY_BIN:-${CARGO_TARGET_DIR:-target}/release/edgeway}
  [ -n "${EDGEWAY_BIN:-}" ] || cargo build --release -q -p edgeway
  work=$(mktemp -d "/tmp/edgeway-$PROFILE_NAME.XXXXXX")
  chmod 755 "$work"
  pids=()
  trap profile_cleanup EXIT
}

profile_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${!PROFILE_KEEP:-}" ] || rm -rf "$work"
}

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() {
  local end=$((SECONDS + 60))
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
    [ $SECONDS -lt $end ] || { echo "$PROFILE_NAME: nothing listens on $1 (logs in $work)" >&2; exit 1; }
    sleep 0.1
  done
}

start_origin() {
  local port=$1 user=""
  shift
  [ "$(id -u)" -eq 0 ] && user="user root;"
  local sub
  for sub in body proxy fastcgi uwsgi scgi; do mkdir -p "$work/origin1-tmp/$sub"; done
  sed -e "s|{{USER}}|$user|; s|{{DIR}}|$work|g; s|{{I}}|1|g; s|{{WWW}}|$work/www|g; s|{{PORT}}|$port|g" \
    bench/configs/origin-nginx.conf > "$work/origin.conf"
  "$@" nginx -e "$work/origin.err" -c "$work/origin.conf" >"$work/origin.out" 2>&1 &
  pids+=($!)
}

edge_config() {
  cat > "$work/edgeway.toml" <<EOT
[resolver]
nameservers = []

[[distribution]]
id = "$1"
listen = ["http://127.0.0.1:$2"]

[[distribution.origin]]
origin_id = "o1"
domain_name = "127.0.0.1"
custom_origin_config = { http_port = $3, origin_protocol_policy = "http-only", origin_keepalive_timeout = 60 }

[distribution.default_cache_behavior]
target_origin_id = "o1"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
EOT
}

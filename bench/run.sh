#!/usr/bin/env bash
# edgeway's benchmark against nginx, Varnish and HAProxy on the same core. See bench/README.md.
#
#   bash bench/run.sh [--smoke] [--rounds N] [--duration S] [--scenario NAME[,NAME]] [--out DIR] [--keep]
#
# Installs what it needs from Debian when missing (as root), builds edgeway in release mode (or
# uses $EDGEWAY_BIN), then runs bench/lib/bench.py, which starts the origins and the servers on
# loopback, pins them, measures, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
source bench/lib/apt.sh

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v varnishd >/dev/null || need+=(varnish)
command -v haproxy >/dev/null || need+=(haproxy)
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v python3 >/dev/null || need+=(python3)
command -v openssl >/dev/null || need+=(openssl)
command -v taskset >/dev/null || need+=(util-linux)
[ -e /usr/lib/nginx/modules/ngx_http_echo_module.so ] || need+=(libnginx-mod-http-echo)
if [ ${#need[@]} -gt 0 ]; then
  apt_install bench "${need[@]}"
fi
# The Debian packages start their services where an init system runs; the bench starts its own
# copies on free loopback ports, so those are left alone.

if [ -z "${EDGEWAY_BIN:-}" ]; then
  cargo build --release -q -p edgeway
  EDGEWAY_BIN="${CARGO_TARGET_DIR:-target}/release/edgeway"
  BENCH_EDGEWAY_REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  git diff --quiet HEAD -- crates Cargo.toml 2>/dev/null || BENCH_EDGEWAY_REV="$BENCH_EDGEWAY_REV+uncommitted"
  export BENCH_EDGEWAY_REV
fi

smoke=0
for a in "$@"; do [ "$a" = --smoke ] && smoke=1; done

# bench.py stops what it starts on exit and on signals (and its children get SIGTERM if it dies);
# this trap passes a signal sent to this script on to it.
export PYTHONDONTWRITEBYTECODE=1
python3 bench/lib/bench.py --edgeway "$EDGEWAY_BIN" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM HUP
rc=0
wait "$pid" || rc=$?
# After a signal, wait returns early: give bench.py its time to clean up.
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[ "$rc" -eq 0 ] || exit "$rc"

if [ "$smoke" -eq 1 ] && [ -z "${BENCH_NO_MICRO:-}" ]; then
  # The micro-benchmarks, each run once (criterion's --test), so they cannot rot either.
  cargo bench -q -p edgeway-cdn --bench hot_paths --bench allocations -- --test
  cargo bench -q -p edgeway-alb --bench hot_paths -- --test
fi

#!/usr/bin/env bash
# A BOLT-optimised edgeway: the release build's machine code laid out again after a profile of
# the benchmark's own traffic (LLVM BOLT, a post-link optimiser). See bench/README.md.
#
#   bash bench/bolt.sh [--smoke] [--out PATH]
#
# Installs bolt-19 from Debian when missing (as root), builds edgeway in release mode with its
# relocations kept (in target/bolt, beside the usual build), instruments that binary, runs
# bench/run.sh's edgeway scenarios against the instrumented copy (one round of 3 s; --smoke: 1 s)
# to collect the profile, and writes the optimised binary to PATH (default target/bolt/edgeway).
# Use it with EDGEWAY_BIN=target/bolt/edgeway bash bench/run.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

smoke=0
out=target/bolt/edgeway
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out=${2:?--out needs a path}; shift ;;
    *) echo "bolt: unknown argument $1 (usage: bash bench/bolt.sh [--smoke] [--out PATH])" >&2; exit 2 ;;
  esac
  shift
done

# The tools under their own prefix, so that llvm-bolt finds its instrumentation runtime there.
BOLT_BIN=/usr/lib/llvm-19/bin
if [ ! -x "$BOLT_BIN/llvm-bolt" ] || [ ! -x "$BOLT_BIN/merge-fdata" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bolt: missing bolt-19; run as root or install it: apt-get install -y bolt-19" >&2
    exit 1
  fi
  echo "bolt: installing bolt-19"
  if ! apt-get install -y -qq bolt-19 >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq bolt-19 >/dev/null
  fi
fi

# BOLT moves functions only in a binary that kept its relocations.
echo "bolt: building edgeway with relocations (target/bolt)"
CARGO_TARGET_DIR=target/bolt RUSTFLAGS="-C link-arg=-Wl,--emit-relocs" \
  cargo build --release -q -p edgeway
bin=target/bolt/release/edgeway

work=$(mktemp -d /tmp/edgeway-bolt.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$BOLT_BIN/llvm-bolt" "$bin" -instrument -o "$work/edgeway-instrumented" \
  --instrumentation-file="$work/profile" --instrumentation-file-append-pid >"$work/instrument.log" 2>&1 \
  || { cat "$work/instrument.log" >&2; exit 1; }

# The profile: every edgeway path the benchmark measures, against the instrumented copy (which
# writes its counts when it exits). The peers run too; their numbers are not used.
secs=3
[ "$smoke" -eq 1 ] && secs=1
echo "bolt: profiling the benchmark's scenarios (1 round of ${secs} s each)"
EDGEWAY_BIN="$work/edgeway-instrumented" BENCH_EDGEWAY_REV="instrumented for BOLT" \
  bash bench/run.sh --rounds 1 --duration "$secs" --out "$work/train" \
  --scenario hit-1k,hit-100k,tls-hit-1k,tls-hit-100k,h2-tls-hit-1k,pass-10k,balance,app-20ms-pass,app-20ms-cached,chain-tls \
  >"$work/train.log" 2>&1 || { tail -20 "$work/train.log" >&2; exit 1; }
shopt -s nullglob
profiles=("$work"/profile*.fdata)
if [ ${#profiles[@]} -eq 0 ]; then
  echo "bolt: the instrumented edgeway wrote no profile" >&2
  exit 1
fi
"$BOLT_BIN/merge-fdata" "${profiles[@]}" >"$work/merged.fdata" 2>"$work/merge.log"

mkdir -p "$(dirname "$out")"
"$BOLT_BIN/llvm-bolt" "$bin" -o "$out" -data="$work/merged.fdata" \
  -reorder-blocks=ext-tsp -reorder-functions=cdsort -split-functions -split-all-cold -split-eh \
  -icf=1 -use-gnu-stack >"$work/optimise.log" 2>&1 || { cat "$work/optimise.log" >&2; exit 1; }
grep -h "have non-empty execution profile" "$work/optimise.log" | sed 's/^BOLT-INFO: /bolt: /' || true
"$out" --version >/dev/null
echo "bolt: wrote $out"

#!/usr/bin/env bash
# A profile-optimised edgeway: the release build compiled again with a profile of the benchmark's
# own traffic (PGO), and, with --bolt, its machine code laid out again by LLVM BOLT after a second
# profile. See bench/README.md, "A profile-optimised binary".
#
#   bash bench/pgo.sh [--smoke] [--bolt] [--out PATH]
#
# 1. Installs llvm-19 from Debian when missing (as root), for llvm-profdata. rustc's own LLVM is
#    newer (22); llvm-profdata 19 reads its raw profiles, and rustc reads the merged file.
# 2. Builds an instrumented edgeway (target/pgo-gen), runs bench/run.sh's edgeway scenarios
#    against it (one round of 3 s each; --smoke: 1 s), and merges the counts.
# 3. Builds edgeway again with that profile (target/pgo; relocations kept for BOLT).
# 4. With --bolt: installs bolt-19 when missing, instruments that binary, profiles the same
#    scenarios again and lays it out (function order, hot/cold split, block order).
# Writes PATH (default target/pgo/edgeway). Use it with
#   EDGEWAY_BIN=target/pgo/edgeway bash bench/run.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
source bench/lib/apt.sh

smoke=0
bolt=0
out=target/pgo/edgeway
usage="usage: bash bench/pgo.sh [--smoke] [--bolt] [--out PATH]"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --bolt) bolt=1 ;;
    --out) out=${2:?--out needs a path}; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "pgo: unknown argument $1 ($usage)" >&2; exit 2 ;;
  esac
  shift
done

LLVM_BIN=/usr/lib/llvm-19/bin
need() { # tool package
  [ -x "$LLVM_BIN/$1" ] || apt_install pgo "$2"
}
need llvm-profdata llvm-19
if [ "$bolt" -eq 1 ]; then
  need llvm-bolt bolt-19
  need merge-fdata bolt-19
fi

work=$(mktemp -d /tmp/edgeway-pgo.XXXXXX)
trap 'rm -rf "$work"' EXIT
secs=3
[ "$smoke" -eq 1 ] && secs=1

# The profile: every edgeway path the benchmark measures (the peers run too; their numbers are
# not used). The instrumented binary writes its counts when it exits.
train() { # binary label
  echo "pgo: profiling the benchmark's scenarios with the $2 build (1 round of ${secs} s each)"
  EDGEWAY_BIN="$1" BENCH_EDGEWAY_REV="instrumented ($2)" \
    bash bench/run.sh --rounds 1 --duration "$secs" --out "$work/train-$2" \
    --scenario hit-1k,hit-100k,tls-hit-1k,tls-hit-100k,h2-tls-hit-1k,pass-10k,balance,app-20ms-pass,app-20ms-cached,chain-tls \
    >"$work/train-$2.log" 2>&1 || { tail -20 "$work/train-$2.log" >&2; exit 1; }
}

# Stage 1: the instrumented build. Its profile directory is fixed so that a second run rebuilds
# only what changed.
raw=$PWD/target/pgo-gen/profiles
echo "pgo: building an instrumented edgeway (target/pgo-gen)"
CARGO_TARGET_DIR=target/pgo-gen RUSTFLAGS="-Cprofile-generate=$raw" \
  cargo build --release -q -p edgeway
rm -rf "$raw"
train target/pgo-gen/release/edgeway pgo
shopt -s nullglob
profiles=("$raw"/*.profraw)
if [ ${#profiles[@]} -eq 0 ]; then
  echo "pgo: the instrumented edgeway wrote no profile to $raw" >&2
  exit 1
fi
"$LLVM_BIN/llvm-profdata" merge -o "$work/edgeway.profdata" "${profiles[@]}" \
  || { echo "pgo: llvm-profdata could not merge rustc's profile (rustc -vV shows its LLVM)" >&2; exit 1; }

# Stage 2: the optimised build. The profile's path names its contents, so a new profile means a
# new build (cargo does not look inside the file).
mkdir -p target/pgo
sum=$(sha256sum "$work/edgeway.profdata" | cut -c1-16)
prof=$PWD/target/pgo/edgeway-$sum.profdata
rm -f target/pgo/edgeway-*.profdata
cp "$work/edgeway.profdata" "$prof"
echo "pgo: building edgeway with the profile (target/pgo)"
CARGO_TARGET_DIR=target/pgo RUSTFLAGS="-Cprofile-use=$prof -C link-arg=-Wl,--emit-relocs" \
  cargo build --release -q -p edgeway
bin=target/pgo/release/edgeway
mkdir -p "$(dirname "$out")"

if [ "$bolt" -eq 0 ]; then
  cp "$bin" "$out.tmp"
  mv "$out.tmp" "$out"
else
  # Stage 3: BOLT, on the binary above (it kept its relocations, so functions can move).
  "$LLVM_BIN/llvm-bolt" "$bin" -instrument -o "$work/edgeway-bolt-instrumented" \
    --instrumentation-file="$work/bolt" --instrumentation-file-append-pid \
    >"$work/instrument.log" 2>&1 || { cat "$work/instrument.log" >&2; exit 1; }
  train "$work/edgeway-bolt-instrumented" bolt
  fdata=("$work"/bolt*.fdata)
  if [ ${#fdata[@]} -eq 0 ]; then
    echo "pgo: the BOLT-instrumented edgeway wrote no profile" >&2
    exit 1
  fi
  "$LLVM_BIN/merge-fdata" "${fdata[@]}" >"$work/merged.fdata" 2>"$work/merge.log"
  "$LLVM_BIN/llvm-bolt" "$bin" -o "$out" -data="$work/merged.fdata" \
    -reorder-blocks=ext-tsp -reorder-functions=cdsort -split-functions -split-all-cold -split-eh \
    -icf=1 -use-gnu-stack >"$work/optimise.log" 2>&1 || { cat "$work/optimise.log" >&2; exit 1; }
  grep -h "have non-empty execution profile" "$work/optimise.log" | sed 's/^BOLT-INFO: /pgo: bolt: /' || true
fi
"$out" --version >/dev/null
echo "pgo: wrote $out"

#!/usr/bin/env bash
# Makes the profile release builds are optimised with (Profiles/mcpsonar.profdata; Package.swift
# and docs/performance.md, "Nineteenth round"): builds the sensor instrumented (MCPSONAR_PGO=generate,
# in .build-pgo), runs it on the benchmark corpus (corpus-30MB, seed 1: `mcpsonar corpus` writes it
# when missing) with one and two workers and on every fixture capture, and merges the counts.
# Run it after changes to the code on the per-packet or per-message path, then rebuild.
# usage: scripts/pgo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swiftc=$(readlink -f "$(command -v swiftc)")
profdata=$(dirname "$swiftc")/llvm-profdata
[ -x "$profdata" ] || profdata=$(command -v llvm-profdata)
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT

MCPSONAR_PGO=generate swift build -c release --static-swift-stdlib --product mcpsonar --scratch-path .build-pgo
sensor=.build-pgo/release/mcpsonar
corpus=bench-out/corpus-30MB.pcap
if [ ! -f "$corpus" ]; then
  mkdir -p bench-out
  "$sensor" corpus --size 30MB --seed 1 -o "$corpus"
fi
export LLVM_PROFILE_FILE="$raw/%p.profraw"
"$sensor" bench -r "$corpus" --passes 1 --workers 1
"$sensor" bench -r "$corpus" --passes 1 --workers 2
for capture in Fixtures/*.pcap Fixtures/*.pcapng; do
  [ -f "$capture" ] && "$sensor" -r "$capture" -o /dev/null
done
mkdir -p Profiles
"$profdata" merge -o Profiles/mcpsonar.profdata "$raw"/*.profraw
"$profdata" show Profiles/mcpsonar.profdata | tail -3
# SwiftPM does not know the profile is an input of the compile: mark the sources changed so that
# the next release build compiles them with the new one.
find Sources -name '*.swift' -exec touch {} +

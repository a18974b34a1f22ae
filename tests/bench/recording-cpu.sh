#!/usr/bin/env bash
# CPU of the box with and without recording (release build, virtual board): each case
# runs WARMUP + SECONDS; CPU is user+sys over SECONDS from /proc/<pid>/stat.
# Usage: tests/bench/recording-cpu.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_MEASURED=${1:-20}
WARMUP=8
BIN=target/release/fourcastd
[ -x "$BIN" ] || cargo build --release -p fourcastd
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
ticks=$(getconf CLK_TCK)
for record in no yes; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" run --data-dir "$tmp/data-$record" --listen "127.0.0.1:$port" 2>/dev/null >/dev/null &
  pid=$!
  sleep "$WARMUP"
  [ "$record" = yes ] && curl -s -XPOST "127.0.0.1:$port/api/v1/recording/start" >/dev/null && sleep 2
  a=$(awk '{print $14+$15}' "/proc/$pid/stat")
  sleep "$SECONDS_MEASURED"
  b=$(awk '{print $14+$15}' "/proc/$pid/stat")
  state=$(curl -s "127.0.0.1:$port/api/v1/status" | python3 -c 'import json,sys; r=json.load(sys.stdin)["recording"]; print(r["state"] if r else "off")')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "print(f'recording: $record ($state) | cpu: {($b-$a)/$ticks/$SECONDS_MEASURED*100:.1f}% of one core')"
done

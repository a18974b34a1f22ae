#!/usr/bin/env bash
# CPU of the box with and without recording (release build, virtual board): each case
# runs WARMUP + SECONDS; CPU is user+sys over SECONDS from /proc/<pid>/stat.
# Usage: tests/bench/recording-cpu.sh [SECONDS]
source "$(dirname "$0")/common.sh"
SECONDS_MEASURED=${1:-20}
WARMUP=8
for record in no yes; do
  port=$(free_port)
  "$BIN" run --data-dir "$tmp/data-$record" --listen "127.0.0.1:$port" 2>/dev/null >/dev/null &
  pid=$!
  token=$(api_token "$port" "$tmp/data-$record")
  sleep "$WARMUP"
  [ "$record" = yes ] && curl -s -XPOST -H "Authorization: Bearer $token" "127.0.0.1:$port/api/v1/recording/start" >/dev/null && sleep 2
  a=$(cpu_ticks "$pid")
  sleep "$SECONDS_MEASURED"
  b=$(cpu_ticks "$pid")
  state=$(curl -s -H "Authorization: Bearer $token" "127.0.0.1:$port/api/v1/status" | python3 -c 'import json,sys; r=json.load(sys.stdin)["recording"]; print(r["state"] if r else "off")')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "recording: $record ($state) | cpu: $(cpu_percent "$a" "$b" "$SECONDS_MEASURED")% of one core"
done

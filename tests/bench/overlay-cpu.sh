#!/usr/bin/env bash
# CPU cost of the overlays: the release daemon on the virtual board without overlays, and
# with all three shown (a 200-px PNG logo with alpha, a lower third with title and
# subtitle, the clock), runs alternating, REPEAT times each. CPU is user+sys of the daemon
# over SECONDS after a warm-up, from /proc/<pid>/stat.
# Usage: tests/bench/overlay-cpu.sh [SECONDS] [REPEAT]
source "$(dirname "$0")/common.sh"
SECONDS_MEASURED=${1:-20}
REPEAT=${2:-2}
WARMUP=8
ffmpeg -hide_banner -loglevel error -y -f lavfi \
  -i "color=c=orange:s=200x100,format=rgba,geq=r=255:g=140:b=0:a='if(lt(X,150),255,96)'" \
  -frames:v 1 "$tmp/logo.png"
declare -A total
for round in $(seq 1 "$REPEAT"); do
  for mode in off on; do
    "$BIN" default-config > "$tmp/c.toml"
    if [ "$mode" = on ]; then
      cat >> "$tmp/c.toml" <<TOML

[overlays.logo]
path = "$tmp/logo.png"
x = 1040
y = 30
width = 200

[overlays.lower_third]
title = "Ada Lovelace"
subtitle = "Analyst, Analytical Engine Company"
visible = true

[overlays.clock]
mode = "clock"
TOML
    fi
    port=$(free_port)
    "$BIN" run --config "$tmp/c.toml" --data-dir "$tmp/data-$round-$mode" --listen "127.0.0.1:$port" 2>/dev/null >/dev/null &
    pid=$!
    token=$(api_token "$port" "$tmp/data-$round-$mode")
    shown=$(curl -s -H "Authorization: Bearer $token" "127.0.0.1:$port/api/v1/config" | grep -c '"lower_third"' || true)
    if [ "$mode" = on ] && [ "$shown" = 0 ]; then echo "the overlays did not apply"; kill "$pid"; exit 1; fi
    sleep "$WARMUP"
    a=$(cpu_ticks "$pid")
    sleep "$SECONDS_MEASURED"
    b=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    pct=$(cpu_percent "$a" "$b" "$SECONDS_MEASURED")
    total[$mode]="${total[$mode]:-} $pct"
    echo "round $round | overlays $mode | cpu: ${pct}% of one core"
  done
done
for mode in off on; do
  echo "overlays $mode: cpu % of one core per run:${total[$mode]}"
done

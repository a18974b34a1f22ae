#!/usr/bin/env bash
# CPU cost of the multiview thumbnails: the release daemon on the virtual board with
# `[multiview] fps` = 0 (off), 2 (the default) and 10 (the most), runs alternating, REPEAT
# times each. With thumbnails on, a poller fetches every thumbnail (four inputs and the
# program) twice a second, as the dashboard does. CPU is user+sys of the daemon over
# SECONDS after a warm-up, from /proc/<pid>/stat.
# Usage: tests/bench/thumbnail-cpu.sh [SECONDS] [REPEAT]
source "$(dirname "$0")/common.sh"
SECONDS_MEASURED=${1:-20}
REPEAT=${2:-2}
WARMUP=8
declare -A total
for round in $(seq 1 "$REPEAT"); do
  for fps in 0 2 10; do
    "$BIN" default-config | sed "/^\[multiview\]/,/^\[/ s/^fps = .*/fps = $fps/" > "$tmp/c.toml"
    grep -q "^fps = $fps" "$tmp/c.toml" || { echo "multiview.fps not set in the config"; exit 1; }
    port=$(free_port)
    "$BIN" run --config "$tmp/c.toml" --data-dir "$tmp/data-$round-$fps" --listen "127.0.0.1:$port" 2>/dev/null >/dev/null &
    pid=$!
    token=$(api_token "$port" "$tmp/data-$round-$fps")
    sleep "$WARMUP"
    poller=""
    if [ "$fps" != 0 ]; then
      ( while true; do
          for s in program inputs/cam1 inputs/cam2 inputs/cam3 inputs/cam4; do
            curl -s -o /dev/null -H "Authorization: Bearer $token" "127.0.0.1:$port/api/v1/$s/thumbnail.jpg"
          done
          sleep 0.5
        done ) &
      poller=$!
    fi
    a=$(cpu_ticks "$pid")
    sleep "$SECONDS_MEASURED"
    b=$(cpu_ticks "$pid")
    size=$(curl -s -H "Authorization: Bearer $token" "127.0.0.1:$port/api/v1/program/thumbnail.jpg" | wc -c)
    [ -n "$poller" ] && kill "$poller" 2>/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
    pct=$(cpu_percent "$a" "$b" "$SECONDS_MEASURED")
    total[$fps]="${total[$fps]:-} $pct"
    echo "round $round | multiview.fps $fps | program thumbnail ${size} bytes | cpu: ${pct}% of one core"
  done
done
for fps in 0 2 10; do
  echo "multiview.fps $fps: cpu % of one core per run:${total[$fps]}"
done

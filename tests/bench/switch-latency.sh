#!/usr/bin/env bash
# Layout command -> first changed program frame, on the live virtual board.
# Usage: tests/bench/switch-latency.sh [TAKES]
# Takes the default scenes in turn over the API. For each take the box reports
# `last_switch_ms` in GET /api/v1/program: from the take reaching the mixer to the first
# program frame painted with the new scene (before encoding). Also prints the API round trip.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
TAKES=${1:-30}
port=$(free_port)
"$BIN" run --data-dir "$tmp/data" --listen "127.0.0.1:$port" >"$tmp/log" 2>&1 &
token=$(api_token "$port" "$tmp/data")
auth=(-H "Authorization: Bearer $token")
for _ in $(seq 1 100); do
  [ -e "$tmp/data/hls/720p/index.m3u8" ] && break
  sleep 0.2
done
sleep 2
scenes=(main two-up inset spotlight all)
: >"$tmp/switch"
for i in $(seq 1 "$TAKES"); do
  scene=${scenes[$(((i - 1) % ${#scenes[@]}))]}
  rt=$(curl -s -o /dev/null -w '%{time_total}' "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"scene\":\"$scene\"}" "127.0.0.1:$port/api/v1/program/take")
  sleep 0.3
  ms=$(curl -s "${auth[@]}" "127.0.0.1:$port/api/v1/program" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["last_switch_ms"])')
  echo "$ms $rt" >>"$tmp/switch"
done
python3 - "$tmp/switch" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ms = sorted(float(r[0]) for r in rows)
rt = sorted(float(r[1]) * 1000 for r in rows)
q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))]
print(f"switch latency (take -> first program frame painted): {len(ms)} takes | "
      f"median {q(ms, .5):.1f} ms | p95 {q(ms, .95):.1f} ms | max {ms[-1]:.1f} ms | "
      f"API round trip median {q(rt, .5):.1f} ms")
PY

#!/usr/bin/env bash
# CPU of the box with 0, 1 and 5 RTMP destinations to a local nginx-rtmp (encode once):
# the release daemon runs each case for WARMUP + SECONDS; CPU is user+sys over SECONDS,
# from /proc/<pid>/stat. Usage: tests/bench/uplink-fanout.sh [SECONDS]
source "$(dirname "$0")/common.sh"
SECONDS_MEASURED=${1:-20}
WARMUP=8
mkdir -p "$tmp/ngx/rec"
rtmp_port=$(free_port)
cat > "$tmp/ngx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; worker_processes 1;
pid $tmp/ngx/nginx.pid; error_log $tmp/ngx/error.log;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:$rtmp_port; application live { live on; } } }
CONF
nginx -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" &
sleep 0.5
for n in 0 1 5; do
  "$BIN" default-config > "$tmp/c.toml"
  for i in $(seq 1 "$n"); do
    printf '\n[[outputs.rtmp]]\nname = "dest%s"\nurl = "rtmp://127.0.0.1:%s/live"\nkey = "k%s"\nrung = "720p"\n' "$i" "$rtmp_port" "$i" >> "$tmp/c.toml"
  done
  port=$(free_port)
  "$BIN" run --config "$tmp/c.toml" --data-dir "$tmp/data$n" --listen "127.0.0.1:$port" 2>/dev/null >/dev/null &
  pid=$!
  token=$(api_token "$port" "$tmp/data$n")
  sleep "$WARMUP"
  a=$(cpu_ticks "$pid")
  sleep "$SECONDS_MEASURED"
  b=$(cpu_ticks "$pid")
  live=$(curl -s -H "Authorization: Bearer $token" "127.0.0.1:$port/api/v1/status" | python3 -c 'import json,sys; d=json.load(sys.stdin)["destinations"]; print(sum(x["state"]=="live" for x in d))')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "rtmp destinations: $n (live: $live) | cpu: $(cpu_percent "$a" "$b" "$SECONDS_MEASURED")% of one core"
done

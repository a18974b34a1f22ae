# Shared by the bench scripts: the release daemon, a free port, CPU seconds of a process.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=target/release/fourcastd
[ -x "$BIN" ] || cargo build --release -p fourcastd
TICKS=$(getconf CLK_TCK)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# CPU ticks (user + sys) a process has used so far.
cpu_ticks() {
  awk '{print $14+$15}' "/proc/$1/stat"
}

# Percent of one core between two tick readings over SECONDS.
cpu_percent() {
  python3 -c "print(f'{($2-$1)/$TICKS/$3*100:.1f}')"
}

# First-boot setup of a fresh box on PORT with data directory DATA (a random admin password and
# the setup code the box wrote there), then an API token for the script; prints the token.
api_token() {
  local port=$1 data=$2 jar="$tmp/cookies-$1" csrf code
  for _ in $(seq 1 100); do curl -s -o /dev/null "127.0.0.1:$port/api/v1/setup" && break; sleep 0.2; done
  for _ in $(seq 1 50); do [ -s "$data/setup-code" ] && break; sleep 0.2; done
  code=$(tr -d '[:space:]' <"$data/setup-code")
  csrf=$(curl -s -c "$jar" -H 'Content-Type: application/json' \
    -d "{\"password\":\"bench-$RANDOM-$RANDOM-$RANDOM\",\"code\":\"$code\"}" "127.0.0.1:$port/api/v1/setup" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
  curl -s -b "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    -d '{"name":"bench"}' "127.0.0.1:$port/api/v1/tokens" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

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

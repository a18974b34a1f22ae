#!/usr/bin/env bash
# fresh-root.sh — runs a command (default: the README's `make test`) in a clean clone of this
# repository's committed HEAD inside a brand-new minimal Debian 12 root. Nothing is installed
# there but minbase, git, make and ca-certificates, plus this machine's Rust toolchain bound
# read-only: a package that the README's commands forget to install fails here the way it
# fails on a new machine, instead of hiding behind what the CI machine already has.
#
#   bash .ci/fresh-root.sh                  # make test (what CI runs; also `make test-fresh`)
#   bash .ci/fresh-root.sh make run ARGS=--help
#   FRESH_ROOT_KEEP=1 bash .ci/fresh-root.sh bash -c 'make deps && gst-inspect-1.0 textoverlay'
#
# The base root is built once with mmdebstrap (about a minute) and cached in $FRESH_ROOT_CACHE
# (default /var/tmp/fourcast-fresh-root); every run starts from a new copy of it. Downloaded
# .deb files are kept in the cache as well (only the downloads: every run installs every
# package again, so a package missing from the Makefile still fails). Needs root.
set -euo pipefail

[ $# -gt 0 ] || set -- make test
[ "$(id -u)" = 0 ] || { echo "fresh-root: run as root (it builds a chroot)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${FRESH_ROOT_CACHE:-/var/tmp/fourcast-fresh-root}
base=$cache/base
debs=$cache/debs

# --- the base root, built once ----------------------------------------------------------
if [ ! -x "$base/usr/bin/git" ]; then
  command -v mmdebstrap >/dev/null || {
    echo "fresh-root: installing mmdebstrap on this machine (builds the base root)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  }
  rm -rf "$base.tmp"; mkdir -p "$cache"
  echo "fresh-root: building the base Debian 12 root (once)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,git,make bookworm "$base.tmp" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  mv "$base.tmp" "$base"
fi

# --- a fresh copy for this run ----------------------------------------------------------
root=$(mktemp -d "$cache/run.XXXXXX")
mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  if [ -n "${FRESH_ROOT_KEEP:-}" ]; then echo "fresh-root: kept $root"; else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
# A mount point of its own, as / is on a real machine: `ip netns exec` remounts / rslave.
mount --bind "$root" "$root"; mounts+=("$root")
cp -a "$base/." "$root/"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# The network's trust store, not an install step: these machines reach the registries through
# a TLS proxy whose authority is in /usr/local/share/ca-certificates. A new machine has it.
mkdir -p "$root/usr/local/share/ca-certificates"
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
[ -f "$HOME/.npmrc" ] && cp "$HOME/.npmrc" "$root/root/.npmrc"

bind() { # bind SRC DEST [ro]
  mkdir -p "$root$2"; mount --bind "$1" "$root$2"; mounts+=("$root$2")
  [ "${3:-}" != ro ] || mount -o remount,bind,ro "$root$2"
}
bind /proc /proc; bind /sys /sys; bind /dev /dev; bind /dev/pts /dev/pts
mkdir -p "$root/dev/shm"; mount -t tmpfs -o size=2g tmpfs "$root/dev/shm"; mounts+=("$root/dev/shm")
mkdir -p "$root/run"; mount -t tmpfs tmpfs "$root/run"; mounts+=("$root/run")
# The download cache (see above): apt keeps what it fetched; the install still runs.
mkdir -p "$debs"; bind "$debs" /var/cache/apt/archives
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/10keep-debs"
rm -f "$root/etc/apt/apt.conf.d/docker-clean"
# The machine's one Rust toolchain (rustup), read-only.
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}; cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
[ -d "$rustup_home" ] || { echo "fresh-root: no Rust toolchain at $rustup_home" >&2; exit 2; }
# The toolchain is bound read-only, so its aarch64 standard library (`make check-arm`) is
# added here, to the machine's toolchain, as a new machine's `rustup target add` would.
rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu ||
  rustup target add aarch64-unknown-linux-gnu
bind "$rustup_home" /opt/rustup ro
bind "$cargo_bin" /opt/cargo-bin ro

# The project as CI sees it: a clone of the committed HEAD, with shared/ beside it if present.
git clone -q "$repo" "$root/src/project"
git -C "$root/src/project" checkout -q "$(git -C "$repo" rev-parse HEAD)"
[ -d "$repo/../shared" ] && cp -a "$repo/../shared" "$root/src/shared"

ca_env=()
for v in SSL_CERT_FILE SSL_CERT_DIR NODE_EXTRA_CA_CERTS CURL_CA_BUNDLE GIT_SSL_CAINFO REQUESTS_CA_BUNDLE PIP_CERT; do
  [ -n "${!v:-}" ] && ca_env+=("$v=${!v}")
done
cmd=$(printf '%q ' "$@")
echo "fresh-root: running '$*' in a fresh Debian 12 root ($(git -C "$repo" rev-parse --short HEAD))"
start=$(date +%s)
set +e
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb CI=true LANG=C.UTF-8 "${ca_env[@]}" \
  RUSTUP_HOME=/opt/rustup CARGO_HOME=/root/.cargo \
  PATH=/root/.cargo/bin:/opt/cargo-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c "cd /src/project && $cmd"
rc=$?
set -e
echo "fresh-root: exit $rc after $(($(date +%s) - start)) s"
exit $rc

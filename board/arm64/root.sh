#!/usr/bin/env bash
# root.sh DIR — the arm64 root the aarch64 build links against and runs in: Debian 12's own
# arm64 GStreamer (headers, .pc files and libraries for the cross build; the plugins the box
# uses for the run under qemu-user). Made with mmdebstrap's `extract` variant: packages are
# unpacked, never configured, so no arm64 program runs while making it (no binfmt_misc
# needed). About 30 s and 850 MB; made again only when the package list below changes.
set -euo pipefail
root=${1:?usage: root.sh DIR}
packages=(
  libc6-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-alsa
  fonts-dejavu-core
)
stamp=$root/.fourcast-root
want="bookworm ${packages[*]}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
rm -rf "$root" "$root.tmp"
mkdir -p "$(dirname "$root")"
echo "arm64 root: unpacking Debian 12's arm64 GStreamer into $root"
mmdebstrap --quiet --variant=extract --arch=arm64 \
  --include="$(IFS=,; echo "${packages[*]}")" bookworm "$root.tmp" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"
echo "$want" >"$root.tmp/.fourcast-root"
mv "$root.tmp" "$root"

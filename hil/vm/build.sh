#!/usr/bin/env bash
# hil/vm/build.sh OUT — the virtual board's kernel and initramfs, built once into OUT
# (default target/vm): Debian's own linux-image-6.1.0-*-amd64 (apt-get download, unpacked,
# never installed), its uncompressed vmlinux (PVH direct boot: half the boot time under
# TCG), modules.dep, and a busybox initramfs that mounts the host's root read-only over 9p
# under a tmpfs overlay. Safe to run twice. Needs: apt, busybox-static, kmod, xz-utils.
set -euo pipefail
out=${1:-target/vm}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
[ -s "$out/vmlinux" ] && [ -s "$out/initrd.img" ] && [ -f "$out/kernel-version" ] && exit 0

# The newest 6.1 kernel the archive has.
newest() { apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1; }
pkg=$(newest)
[ -n "$pkg" ] || { apt-get update -qq >/dev/null 2>&1 || true; pkg=$(newest); }
[ -n "$pkg" ] || { echo "vm: no linux-image-6.1.0-*-amd64 in the apt lists (apt-get update?)" >&2; exit 2; }
version=${pkg#linux-image-}
rm -rf "$out/kpkg" "$out/deb" && mkdir -p "$out/deb"
(cd "$out/deb" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "vm: apt-get download $pkg failed" >&2; exit 2; }
dpkg-deb -x "$out"/deb/*.deb "$out/kpkg"
rm -rf "$out/deb"
depmod -b "$out/kpkg" "$version"
python3 - "$out/kpkg/boot/vmlinuz-$version" "$out/vmlinux.xz" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(d[d.find(b'\xfd7zXZ\x00'):])
PY
xz -dc "$out/vmlinux.xz" > "$out/vmlinux" 2>/dev/null || true   # "trailing garbage" is expected
rm -f "$out/vmlinux.xz"
[ -s "$out/vmlinux" ] || { echo "vm: could not cut vmlinux out of vmlinuz" >&2; exit 2; }

s=$out/initramfs
rm -rf "$s" && mkdir -p "$s/bin" "$s/mods" "$s/dev" "$s/proc" "$s/sys"
cp /bin/busybox "$s/bin/busybox"
cp "$here/initramfs-init" "$s/init" && chmod 755 "$s/init"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p overlay; do
  f=$(find "$out/kpkg/lib/modules" -name "$m.ko" | head -1)
  [ -n "$f" ] && cp "$f" "$s/mods/"
done
(cd "$s" && mknod dev/console c 5 1 2>/dev/null || true
 find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initrd.img"
rm -rf "$s"
echo "$version" > "$out/kernel-version"
echo "vm: kernel $version, initramfs ready in $out"

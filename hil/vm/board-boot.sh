#!/bin/bash
# The HIL virtual board's boot, what a real box's init does (run by guest-agent.sh when the
# harness asks for it): the slot the bootloader picked (`rauc.slot=` on the kernel's
# command line) mounted read-only as the firmware, the data disk, the system D-Bus with the
# policy we ship, RAUC, and the daemon from the slot, restarted as systemd would; 5 failed
# starts in 180 s reboot the machine (the unit's StartLimitAction=reboot), so a firmware
# that cannot start reaches the bootloader's fallback.
#   /dev/vda, /dev/vdb  slots A and B (raw: a squashfs with /etc/os-release, /usr/bin/fourcastd)
#   /dev/vdc            data (ext4): /data/fourcast (the daemon), /data/rauc
#   /dev/vdd            the boot environment (hil/vm/bootenv.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "board: $(cut -d' ' -f1 /proc/uptime) $*"; }
reboot_now() { say "reboot: $*"; sync; busybox reboot -f; }
for m in virtio_blk loop dm_mod dm_verity squashfs ext4; do modprobe "$m"; done
for _ in $(seq 100); do [ -b /dev/vdd ] && break; sleep 0.1; done
slot=$(sed -n 's/.*rauc\.slot=\([AB]\).*/\1/p' /proc/cmdline)
case "$slot" in A) dev=/dev/vda ;; B) dev=/dev/vdb ;; *) say "no rauc.slot"; exit 1 ;; esac
mkdir -p /data /run/slot /run/rauc
mount -t ext4 /dev/vdc /data || { say "no data disk"; exit 1; }
mkdir -p /data/fourcast /data/rauc
mount -t squashfs -o ro "$dev" /run/slot || { sleep 2; reboot_now "slot $slot holds no firmware"; }
say "booted slot $slot: $(grep VERSION_ID /run/slot/etc/os-release)"
mkdir -p /run/dbus /etc/dbus-1/system.d
cp "$here/../../ota/dbus/de.pengutronix.rauc.conf" /etc/dbus-1/system.d/
dbus-daemon --system --fork
rauc --conf=/run/out/system.conf --mount=/run/rauc service >> /run/out/rauc.log 2>&1 &
for _ in $(seq 100); do
  dbus-send --system --print-reply --dest=de.pengutronix.rauc / org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1 && break
  sleep 0.2
done
say "rauc up"
printf '#!/bin/sh\nsync\nexec busybox reboot -f\n' > /run/reboot && chmod 755 /run/reboot
fails=()
while true; do
  seed=(); [ -f /data/fourcast/seeded ] || seed=(--config /run/out/box.toml)
  say "daemon starts"
  /run/slot/usr/bin/fourcastd run "${seed[@]}" --data-dir /data/fourcast --listen 0.0.0.0:8080 \
    --rauc-bus system --rauc-conf /run/out/system.conf --release-file /run/slot/etc/os-release \
    --reboot-command /run/reboot >> /run/out/daemon.log 2>&1 < /dev/null
  say "daemon exited ($?)"
  now=$(cut -d. -f1 /proc/uptime)
  recent=(); for t in "${fails[@]}" "$now"; do [ $((now - t)) -lt 180 ] && recent+=("$t"); done
  fails=("${recent[@]}")
  [ "${#fails[@]}" -ge 5 ] && reboot_now "the daemon failed 5 times in 180 s"
  sleep 2
done

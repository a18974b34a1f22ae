#!/bin/bash
# PID 1 of the virtual board: mounts, the kernel's modules, the network (user-mode, the
# host forwards the box's HTTP port), then the control channel: the host writes
# /run/out/ctl/N.sh into the shared folder; this runs it and writes N.out and N.rc.
# `poweroff` as a request stops the VM.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t tmpfs -o mode=0755 vbrun /run
mkdir -p /dev/pts /dev/shm /run/out /tmp
ln -sfn /proc/self/fd /dev/fd
mount -t devpts devpts /dev/pts
mount -t tmpfs vbshm /dev/shm
mount -t tmpfs -o mode=1777 vbtmp /tmp
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vbout /run/out
kver=$(cat /run/out/kernel-version)
mkdir -p /usr/lib/modules && ln -sfn "$(cat /run/out/kpkg)/lib/modules/$kver" "/usr/lib/modules/$kver"
hostname vboard
ip link set lo up
modprobe virtio_net && ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
# The board's devices, as the host asked (one modprobe line each).
if [ -f /run/out/modules ]; then
  while read -r line; do [ -n "$line" ] && modprobe $line; done < /run/out/modules
fi
mkdir -p /run/out/ctl
# The HIL board boots as a box does (hil/vm/board-boot.sh: slots, data, RAUC, the daemon).
if [ -f /run/out/boot ]; then setsid bash "$(cat /run/out/boot)" > /run/out/boot.log 2>&1 < /dev/null & fi
echo "$(cut -d' ' -f1 /proc/uptime)" > /run/out/ready
while true; do
  for req in /run/out/ctl/*.sh; do
    [ -e "$req" ] || continue
    base=${req%.sh}
    mv "$req" "$base.run"
    if [ "$(cat "$base.run")" = poweroff ]; then sync; busybox poweroff -f; fi
    bash "$base.run" > "$base.tmp" 2>&1
    echo $? > "$base.rctmp"
    mv "$base.tmp" "$base.out"; mv "$base.rctmp" "$base.rc"
  done
  sleep 0.1
done

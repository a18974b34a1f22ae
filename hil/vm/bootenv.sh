#!/bin/sh
# RAUC's custom bootloader backend on the HIL virtual board. The boot environment is one
# text sector on /dev/vdd, read by the harness (which plays the bootloader between two runs
# of QEMU, hil/src/bootenv.rs): `order=A B`, and per slot the boots it has left. As with
# RAUC's U-Boot backend: a slot is good while it has boots left; set-primary puts a slot
# first with full count; marking good fills the count, marking bad empties it.
env=/dev/vdd
tries=3
text=$(dd if=$env bs=512 count=1 2>/dev/null | tr -d '\000')
get() { printf '%s\n' "$text" | sed -n "s/^$1=//p"; }
order=$(get order); a=$(get A); b=$(get B)
left() { if [ "$1" = A ]; then echo "${a:-0}"; else echo "${b:-0}"; fi; }
set_left() { if [ "$1" = A ]; then a=$2; else b=$2; fi; }
other() { if [ "$1" = A ]; then echo B; else echo A; fi; }
save() { printf 'order=%s\nA=%s\nB=%s\n' "$order" "$a" "$b" | dd of=$env bs=512 count=1 conv=sync,fsync 2>/dev/null; }
case "$1" in
  get-primary)
    for s in $order; do [ "$(left "$s")" -gt 0 ] && { echo "$s"; exit 0; }; done
    exit 1 ;;
  set-primary) order="$2 $(other "$2")"; set_left "$2" $tries; save ;;
  get-state) if [ "$(left "$2")" -gt 0 ]; then echo good; else echo bad; fi ;;
  set-state) if [ "$3" = good ]; then set_left "$2" $tries; else set_left "$2" 0; fi; save ;;
  *) exit 1 ;;
esac

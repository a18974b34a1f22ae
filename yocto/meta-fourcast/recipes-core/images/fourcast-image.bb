SUMMARY = "The Fourcast encoder box's root filesystem"
DESCRIPTION = "A headless systemd image with the Fourcast daemon, the GStreamer plugins \
               it uses, RAUC for A/B updates, and SSH for the technician."
HOMEPAGE = "https://github.com/fourcast/fourcast"
BUGTRACKER = "https://github.com/fourcast/fourcast/issues"
SECTION = "base"
LICENSE = "MIT"
CVE_PRODUCT = ""

inherit core-image

IMAGE_FEATURES += "ssh-server-dropbear"
IMAGE_INSTALL:append = " \
    alsa-utils \
    fourcastd \
    rauc \
    v4l-utils \
"
# (tegra is the SoC override meta-tegra's machines set; its libv4l2-minimal takes the
# v4l-utils name and ships no tools, so v4l2-ctl is not in a Jetson image.)
# nooelint: oelint.vars.specific
IMAGE_INSTALL:remove:tegra = "v4l-utils"
# Emulation has no HDMI receiver: vivid and the ALSA loopback stand in, as on the
# repository's virtual board.
IMAGE_INSTALL:append:qemuall = " kernel-module-snd-aloop kernel-module-vivid"

# Two root filesystem slots and a data partition (wic/fourcast-ab.wks.in); the bundle
# carries one root filesystem image.
IMAGE_FSTYPES += "ext4 wic.bmap wic.gz"
WKS_FILE ?= "fourcast-ab.wks.in"
IMAGE_ROOTFS_EXTRA_SPACE = "65536"

# nooelint: oelint.var.bbclassextend
# (A daemon for the box: no native or SDK form serves anyone.)
SUMMARY = "Fourcast: the live-video encoder box's daemon and fleet tool"
DESCRIPTION = "Mixes up to four cameras into one program, encodes an ABR ladder, serves \
               live HLS, pushes SRT and RTMP uplinks, records, and is managed over its \
               web UI, its API and MQTT; updates itself with RAUC."
SECTION = "multimedia"

require recipes-fourcast/fourcast-source.inc

DEPENDS += "fourcast-web-ui gstreamer1.0 gstreamer1.0-plugins-base qemu-native"

SRC_URI = "${FOURCAST_GIT_URI};name=fourcast;destsuffix=${BP} \
           file://fourcastd.sysusers \
           file://fourcastd.tmpfiles \
           "

require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates pkgconfig qemu systemd

# The web UI is built once by fourcast-web-ui and embedded at compile time.
export FOURCAST_WEB_UI_DIST = "${STAGING_DATADIR}/fourcast-web-ui"

# The board profile the default config is made for (board/profiles/*.toml).
FOURCAST_BOARD ??= "virtual"
# (rk3588 is the SoC override meta-rockchip's machines set.)
# nooelint: oelint.vars.specific
FOURCAST_BOARD:rk3588 = "rk3588"
# (mx8mp-nxp-bsp is the SoC override meta-freescale's i.MX 8M Plus machines set.)
# nooelint: oelint.vars.specific
FOURCAST_BOARD:mx8mp-nxp-bsp = "imx8mp"
# (tegra234 is the SoC override meta-tegra's Orin machines set.)
# nooelint: oelint.vars.specific
FOURCAST_BOARD:tegra234 = "jetson"

# The workspace has more than the box needs: only the daemon and the fleet tool.
do_compile() {
    oe_cargo_build -p fourcastd -p fourcast-fleet-tool
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 ${B}/target/${CARGO_TARGET_SUBDIR}/fourcastd ${D}${bindir}/fourcastd
    install -m 0755 ${B}/target/${CARGO_TARGET_SUBDIR}/fourcast-fleet ${D}${bindir}/fourcast-fleet
    install -d ${D}${systemd_system_unitdir}
    # RAUC's config is in ${nonarch_libdir}/rauc on this distro (meta-rauc's rauc-conf).
    sed -e 's|/etc/rauc/system.conf|${nonarch_libdir}/rauc/system.conf|' \
        ${S}/ota/systemd/fourcastd.service > ${D}${systemd_system_unitdir}/fourcastd.service
    install -d ${D}${nonarch_libdir}/sysusers.d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${UNPACKDIR}/fourcastd.sysusers ${D}${nonarch_libdir}/sysusers.d/fourcastd.conf
    install -m 0644 ${UNPACKDIR}/fourcastd.tmpfiles ${D}${nonarch_libdir}/tmpfiles.d/fourcastd.conf
    # The board's default config, printed by the daemon just built (run under qemu-user,
    # as oe-core runs target programs at build time).
    install -d ${D}${sysconfdir}/fourcast
    ${@qemu_run_binary(d, '${STAGING_DIR_TARGET}', '${B}/target/${CARGO_TARGET_SUBDIR}/fourcastd')} \
        default-config --board ${FOURCAST_BOARD} > ${D}${sysconfdir}/fourcast/fourcast.toml
}

SYSTEMD_SERVICE:${PN} = "fourcastd.service"
CONFFILES:${PN} = "${sysconfdir}/fourcast/fourcast.toml"
FILES:${PN} += "${nonarch_libdir}/sysusers.d ${nonarch_libdir}/tmpfiles.d"

# What the engine makes at run time (firmware/engine/src/packages.rs names each element's
# package): base, good, bad, ugly (x264: LICENSE_FLAGS "commercial"), libav (AAC), the
# Pango overlays and ALSA capture. The board's own encoder stack comes from its BSP.
RDEPENDS:${PN} = "\
    gstreamer1.0-libav \
    gstreamer1.0-plugins-bad-hls \
    gstreamer1.0-plugins-bad-mpegtsmux \
    gstreamer1.0-plugins-bad-rtmp2 \
    gstreamer1.0-plugins-bad-srt \
    gstreamer1.0-plugins-bad-timecode \
    gstreamer1.0-plugins-bad-videoparsersbad \
    gstreamer1.0-plugins-base-alsa \
    gstreamer1.0-plugins-base-app \
    gstreamer1.0-plugins-base-audioconvert \
    gstreamer1.0-plugins-base-audiomixer \
    gstreamer1.0-plugins-base-audioresample \
    gstreamer1.0-plugins-base-audiotestsrc \
    gstreamer1.0-plugins-base-pango \
    gstreamer1.0-plugins-base-playback \
    gstreamer1.0-plugins-base-videoconvertscale \
    gstreamer1.0-plugins-base-videorate \
    gstreamer1.0-plugins-base-videotestsrc \
    gstreamer1.0-plugins-good-audioparsers \
    gstreamer1.0-plugins-good-flv \
    gstreamer1.0-plugins-good-isomp4 \
    gstreamer1.0-plugins-good-jpeg \
    gstreamer1.0-plugins-good-multifile \
    gstreamer1.0-plugins-good-png \
    gstreamer1.0-plugins-good-video4linux2 \
    gstreamer1.0-plugins-ugly-x264 \
    rauc \
"

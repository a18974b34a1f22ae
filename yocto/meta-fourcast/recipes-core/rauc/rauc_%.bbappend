# RAUC's D-Bus policy on a Fourcast box: root and the daemon's user only (the stock one lets
# any local user install a bundle or mark a slot). A copy of the repository's
# ota/dbus/de.pengutronix.rauc.conf; a test in the repository keeps the two identical.
# Only with the Fourcast distro.
FILESEXTRAPATHS:prepend:fourcast := "${THISDIR}/files:"
SRC_URI:append:fourcast = " file://de.pengutronix.rauc.conf"

do_install:append:fourcast() {
    install -m 0644 ${UNPACKDIR}/de.pengutronix.rauc.conf \
        ${D}${datadir}/dbus-1/system.d/de.pengutronix.rauc.conf
}

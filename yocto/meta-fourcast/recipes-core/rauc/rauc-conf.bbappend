# RAUC's system config for a Fourcast box (A/B root filesystems, verity bundles only) and
# the keyring bundles are checked against: the release CA named by FOURCAST_RAUC_KEYRING,
# or the development CA scripts/dev-pki.sh makes (development boards only). Only with the
# Fourcast distro: adding the layer alone changes nothing.
FILESEXTRAPATHS:prepend:fourcast := "${THISDIR}/files:"

FOURCAST_DEV_PKI:fourcast ??= "${TOPDIR}/fourcast-dev-pki"
FOURCAST_RAUC_KEYRING:fourcast ??= "${FOURCAST_DEV_PKI}/ca.cert.pem"
RAUC_KEYRING_FILE:fourcast = "ca.cert.pem"
RAUC_KEYRING_URI:fourcast = "file://${FOURCAST_RAUC_KEYRING}"

do_install:prepend:fourcast() {
    sed -i "s|@COMPATIBLE@|fourcast-${MACHINE}|" ${UNPACKDIR}/system.conf
}

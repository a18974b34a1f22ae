# nooelint: oelint.var.mandatoryvar.SRC_URI,oelint.var.bbclassextend
# (A bundle is made of the image the build just made: it fetches nothing, and has no
# native or SDK form.)
SUMMARY = "Signed RAUC update bundle of the Fourcast image (verity format)"
DESCRIPTION = "The bundle a Fourcast box installs into its inactive slot: the root \
               filesystem image, signed with the release key (or the development key)."
HOMEPAGE = "https://github.com/fourcast/fourcast"
BUGTRACKER = "https://github.com/fourcast/fourcast/issues"
SECTION = "base"
LICENSE = "MIT"
CVE_PRODUCT = ""

inherit bundle

RAUC_BUNDLE_COMPATIBLE = "fourcast-${MACHINE}"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}"
RAUC_BUNDLE_DESCRIPTION = "Fourcast ${DISTRO_VERSION} for ${MACHINE}"
RAUC_BUNDLE_FORMAT = "verity"
RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "fourcast-image"
RAUC_SLOT_rootfs[fstype] = "ext4"

FOURCAST_DEV_PKI ??= "${TOPDIR}/fourcast-dev-pki"
RAUC_KEY_FILE ??= "${FOURCAST_DEV_PKI}/development-1.key.pem"
RAUC_CERT_FILE ??= "${FOURCAST_DEV_PKI}/development-1.cert.pem"

# nooelint: oelint.var.bbclassextend
# (It is built once for every architecture already: allarch. No native or SDK form serves.)
SUMMARY = "Fourcast's web UI, built once and embedded into fourcastd"
DESCRIPTION = "The technician's pages (plain HTML, CSS and JavaScript modules) with \
               hls.js for the program preview, and a gzip copy of each file, as \
               web-ui/build.mjs makes them."
SECTION = "multimedia"

require recipes-fourcast/fourcast-source.inc

LIC_FILES_CHKSUM += "file://web-ui/node_modules/hls.js/LICENSE;md5=8c22b1b3074f826155dbc85e6a0d4d1f"

DEPENDS += "nodejs-native"

# hls.js at the version web-ui/package-lock.json pins (a test in the repository holds the
# two together): its registry tarball, fetched and checked like any source (wrynose has
# disabled bitbake's npm fetcher), unpacked where npm would put it. Nothing is fetched
# after do_fetch.
HLSJS_VERSION = "1.6.19"
# (The tarball is named by hls.js's own version, not this recipe's PV.)
# nooelint: oelint.vars.downloadfilename
SRC_URI = "${FOURCAST_GIT_URI};name=fourcast;destsuffix=${BP} \
           https://registry.npmjs.org/hls.js/-/hls.js-${HLSJS_VERSION}.tgz;name=hlsjs;subdir=${BP}/web-ui/node_modules/hls.js;striplevel=1 \
           "
SRC_URI[hlsjs.sha256sum] = "a35046767c8dff431fb02b565451d1214378ffc48928355f3622d4702ec2aca0"

inherit allarch

do_configure[noexec] = "1"

do_compile() {
    cd ${S}/web-ui
    node build.mjs
}

do_install() {
    install -d ${D}${datadir}/fourcast-web-ui
    cp -R --no-dereference --preserve=mode,links ${S}/web-ui/dist/. ${D}${datadir}/fourcast-web-ui/
}

# Staged for fourcastd's build, which embeds it.
SYSROOT_DIRS += "${datadir}/fourcast-web-ui"

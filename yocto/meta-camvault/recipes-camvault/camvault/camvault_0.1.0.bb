SUMMARY = "camvault: records cameras in crash-safe segments and uploads them to S3"
DESCRIPTION = "One static daemon: recorder, S3 uploader with resumable signed uploads, MQTT with Home Assistant discovery, FTP-to-RTMP relay."
HOMEPAGE = "https://github.com/camvault/camvault"
SECTION = "multimedia"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=0000000000000000000000000000000"

# The v4l crate makes its V4L2 bindings with bindgen, which needs libclang (meta-clang).
DEPENDS += "clang-native"

SRC_URI = "git://github.com/camvault/camvault.git;protocol=https;branch=main"
SRCREV = "${AUTOREV}"
S = "${WORKDIR}/git"

inherit cargo systemd useradd

require camvault-crates.inc

SYSTEMD_SERVICE:${PN} = "camvault.service"
USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --home ${localstatedir}/lib/camvault --shell /sbin/nologin --groups video camvault"

do_install:append() {
    install -d ${D}${systemd_system_unitdir} ${D}${sysconfdir}/camvault
    install -m 0644 ${S}/overlay/etc/systemd/system/camvault.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${S}/overlay/etc/camvault/camvault.toml ${D}${sysconfdir}/camvault/
    install -d ${D}${sysconfdir}/modules-load.d
    install -m 0644 ${S}/overlay/etc/modules-load.d/camvault.conf ${D}${sysconfdir}/modules-load.d/
}

FILES:${PN} += "${systemd_system_unitdir}/camvault.service"

RDEPENDS:${PN} += "ffmpeg"

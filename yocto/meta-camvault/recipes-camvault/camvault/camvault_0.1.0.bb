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

# The OTA side (docs/IMAGE.md, "Updates"): root's reboot-request watcher, the rollback guard
# timer, and the D-Bus policy that lets camvault (and root only) drive RAUC.
SYSTEMD_SERVICE:${PN} = "camvault.service camvault-reboot.path camvault-ota-guard.timer"
USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --home ${localstatedir}/lib/camvault --shell /sbin/nologin --groups video camvault"

do_install:append() {
    install -d ${D}${systemd_system_unitdir} ${D}${sysconfdir}/camvault
    install -m 0644 ${S}/overlay/etc/systemd/system/camvault.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${S}/overlay/etc/camvault/camvault.toml ${D}${sysconfdir}/camvault/
    install -d ${D}${sysconfdir}/modules-load.d
    install -m 0644 ${S}/overlay/etc/modules-load.d/camvault.conf ${D}${sysconfdir}/modules-load.d/
    for unit in camvault-reboot.path camvault-reboot.service camvault-ota-guard.service camvault-ota-guard.timer; do
        install -m 0644 ${S}/flash/image-overlay/etc/systemd/system/$unit ${D}${systemd_system_unitdir}/
    done
    install -d ${D}${libdir}/camvault ${D}${sysconfdir}/dbus-1/system.d
    install -m 0755 ${S}/flash/image-overlay/usr/lib/camvault/ota-guard ${D}${libdir}/camvault/
    install -m 0644 ${S}/flash/image-overlay/etc/dbus-1/system.d/camvault-rauc.conf ${D}${sysconfdir}/dbus-1/system.d/
}

FILES:${PN} += "${systemd_system_unitdir}/camvault*.service ${systemd_system_unitdir}/camvault*.path \
    ${systemd_system_unitdir}/camvault*.timer ${libdir}/camvault ${sysconfdir}/dbus-1/system.d"

RDEPENDS:${PN} += "ffmpeg"

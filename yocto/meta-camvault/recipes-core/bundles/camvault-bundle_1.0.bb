SUMMARY = "The camvault RAUC update bundle of the root slot"
DESCRIPTION = "Part of the camvault camera appliance (see flash/ and docs/IMAGE.md for the Debian-based image)."
HOMEPAGE = "https://github.com/camvault/camvault"
SECTION = "images"
LICENSE = "MIT"

inherit bundle

RAUC_BUNDLE_COMPATIBLE = "camvault-${MACHINE}"
RAUC_BUNDLE_FORMAT = "verity"
RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "camvault-image"
RAUC_KEY_FILE ?= "${TOPDIR}/ota/key.pem"
RAUC_CERT_FILE ?= "${TOPDIR}/ota/cert.pem"

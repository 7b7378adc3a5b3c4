SUMMARY = "The camvault appliance image: A/B root slots for RAUC, camvault, ffmpeg"
DESCRIPTION = "Part of the camvault camera appliance (see flash/ and docs/IMAGE.md for the Debian-based image)."
HOMEPAGE = "https://github.com/camvault/camvault"
SECTION = "images"
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "read-only-rootfs ssh-server-openssh"
IMAGE_INSTALL:append = " camvault ffmpeg rauc u-boot-fw-utils"
IMAGE_FSTYPES = "ext4 wic.bz2 wic.bmap"

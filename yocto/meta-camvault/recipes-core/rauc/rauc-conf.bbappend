# camvault's two root slots and U-Boot's BOOT_ORDER / BOOT_x_LEFT, as in flash/.
FILESEXTRAPATHS:prepend := "${THISDIR}/files:"

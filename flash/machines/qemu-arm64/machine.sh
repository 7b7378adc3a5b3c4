# The qemu twin: qemu-system-aarch64 -M virt with Debian's u-boot-qemu as firmware (-bios).
# U-Boot keeps no environment of its own there: the script loads and saves uboot.env on the
# boot partition, in the same binary format as the Pi's (so fw_printenv works alike).
LOAD_ENV='if fatload ${devtype} ${devnum}:1 ${loadaddr} uboot.env; then env import -c ${loadaddr} 0x4000; fi'
SAVE_ENV='env export -c -s 0x4000 ${loadaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; fatwrite ${devtype} ${devnum}:1 ${loadaddr} uboot.env 0x4000'
CONSOLE='console=ttyAMA0'
# QEMU hands U-Boot the board's device tree.
LOAD_FDT='setenv fdt_to_boot ${fdtcontroladdr}'
COMPATIBLE=camvault-qemu-arm64
KERNEL_COMP_ADDR=0x50000000

# Raspberry Pi 4: the GPU firmware (raspi-firmware) starts U-Boot (u-boot-rpi, rpi_arm64),
# which keeps uboot.env on the boot partition itself.
LOAD_ENV=''
SAVE_ENV='saveenv'
CONSOLE='console=serial0,115200 console=tty1'
# The slot's own device tree, the one the firmware named (fdtfile), else the firmware's.
LOAD_FDT='if load ${devtype} ${devnum}:${rootpart} ${fdt_addr_r} /boot/dtbs/${fdtfile}; then setenv fdt_to_boot ${fdt_addr_r}; else setenv fdt_to_boot ${fdt_addr}; fi'
COMPATIBLE=camvault-rpi4
FIRMWARE_DTBS='bcm2711-rpi-4-b.dtb bcm2711-rpi-400.dtb bcm2711-rpi-cm4-io.dtb'
KERNEL_COMP_ADDR=0x0a000000

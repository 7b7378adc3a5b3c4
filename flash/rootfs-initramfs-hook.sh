#!/bin/sh
# mmdebstrap essential hook: before the kernel is installed, tell initramfs-tools to take only
# the modules the image boots with (virtio for qemu, the Pi's SD controller, ext4) instead of
# "most", which under qemu-user emulation costs over 20 minutes of per-module lookups.
set -e
root=$1
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/etc/initramfs-tools/hooks"
echo MODULES=list >"$root/etc/initramfs-tools/conf.d/camvault.conf"
cat >"$root/etc/initramfs-tools/hooks/camvault" <<'HOOK'
#!/bin/sh
[ "$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
for m in virtio_pci virtio_mmio virtio_blk virtio_scsi sd_mod ext4 crc32c_generic \
  mmc_block sdhci_iproc sdhci_pltfm sdhci bcm2835 usb_storage uas xhci_pci xhci_plat_hcd \
  dwc2 nvme; do
  manual_add_modules "$m"
done
HOOK
chmod 0755 "$root/etc/initramfs-tools/hooks/camvault"

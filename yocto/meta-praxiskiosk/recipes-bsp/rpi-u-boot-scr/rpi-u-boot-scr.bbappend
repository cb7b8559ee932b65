# The A/B boot script for RAUC (files/boot.cmd.in) instead of meta-raspberrypi's single-root one.
# The recipe fills in @@KERNEL_IMAGETYPE@@ and @@KERNEL_BOOTCMD@@ as for its own boot.cmd.in.
# Scoped to the praxiskiosk distro.
FILESEXTRAPATHS:prepend:praxiskiosk := "${THISDIR}/files:"

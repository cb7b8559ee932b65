SUMMARY = "praxiskiosk: the video consultation kiosk image for Raspberry Pi 4 and 5"
DESCRIPTION = "systemd, kioskd with GStreamer (webrtcbin, libnice, SRTP, DTLS), libcamera, ALSA \
and DRM/KMS, on a read-only root file system with a data partition, updated with RAUC (A/B)."
LICENSE = "MIT"

inherit core-image

# Production: no login anywhere, no SSH, root locked (no debug-tweaks, no empty-root-password).
# PRAXISKIOSK_DEVELOPMENT = "1" (distro conf, local.conf) adds SSH and a passwordless root login.
IMAGE_FEATURES += "read-only-rootfs"
IMAGE_FEATURES += "${@oe.utils.conditional('PRAXISKIOSK_DEVELOPMENT', '1', 'ssh-server-dropbear allow-empty-password empty-root-password allow-root-login', '', d)}"

# systemd-conf: systemd only recommends it, and it carries our settings for systemd's own
# services (recipes-core/systemd: timesyncd on, its NTP servers).
IMAGE_INSTALL = " \
    packagegroup-core-boot \
    kioskd \
    praxiskiosk-mounts \
    systemd-conf \
    rauc \
    rauc-conf \
    rauc-mark-good \
    libubootenv-bin \
    kernel-image \
    kernel-modules \
    libcamera \
    libcamera-gst \
    alsa-utils-alsactl \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

# The kernel goes into the root file system (/boot/Image in each slot), where boot.scr loads it:
# a RAUC update then replaces kernel, modules and userland together.
RPI_EXTRA_IMAGE_BOOT_FILES:remove = "${KERNEL_IMAGETYPE}"

IMAGE_FSTYPES = "ext4 wic.bz2 wic.bmap"
# Found in the layer's files/wic/: on wrynose, WKS_SEARCH_PATH looks in files/wic of every layer,
# and OE-core's sanity check refuses a layer that still has a top-level wic/ directory.
WKS_FILE = "praxiskiosk-sdimage.wks"

# Room for a kiosk's root file system; the slots are 2 GiB (wks).
IMAGE_ROOTFS_EXTRA_SPACE = "65536"

# No getty on the display or the serial port: the console shows boot messages only. A unit that
# is masked cannot be started by anything (systemd-getty-generator, autovt on a key press).
ROOTFS_POSTPROCESS_COMMAND += "${@oe.utils.conditional('PRAXISKIOSK_DEVELOPMENT', '1', '', 'praxiskiosk_mask_gettys', d)}"

praxiskiosk_mask_gettys() {
    install -d ${IMAGE_ROOTFS}${sysconfdir}/systemd/system
    for unit in getty@.service serial-getty@.service autovt@.service console-getty.service container-getty@.service; do
        ln -sf /dev/null ${IMAGE_ROOTFS}${sysconfdir}/systemd/system/$unit
    done
}

# kioskd refuses every appointment code until systemd-timesyncd has synchronized the clock (a Pi 4
# has no real-time clock): an image in which timesyncd would not start fails here, at build time,
# rather than in a practice. It must run after the presets were applied (systemd_handle_machine_id
# of rootfs-postcommands), which the image classes add after this recipe's "+=" lines (bitbake -e
# lists them later): hence ":append", which comes last.
ROOTFS_POSTPROCESS_COMMAND:append = " praxiskiosk_check_timesyncd"

praxiskiosk_check_timesyncd() {
    state=$(systemctl --root=${IMAGE_ROOTFS} is-enabled systemd-timesyncd.service 2>/dev/null || true)
    if [ "$state" != "enabled" ]; then
        bbfatal "systemd-timesyncd.service is not enabled in the image (${state:-not found}): kioskd would refuse every code. It needs PACKAGECONFIG timesyncd in systemd and 50-praxiskiosk.preset (systemd-conf)."
    fi
}

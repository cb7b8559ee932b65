# nooelint: oelint.var.mandatoryvar.HOMEPAGE
# No HOMEPAGE: part of this layer, no upstream project.
SUMMARY = "Mounts of the praxiskiosk SD card: /boot, /data, and what lives on /data"
DESCRIPTION = "systemd mount units for the partitions of files/wic/praxiskiosk-sdimage.wks, so that a \
root file system installed by RAUC mounts them the same way as the flashed one."
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = " \
    file://boot.mount \
    file://data.mount \
    file://praxiskiosk-data-dirs.service \
    file://var-lib-praxiskiosk.mount \
    file://var-lib-systemd-timesync.mount \
"

S = "${UNPACKDIR}"

inherit allarch systemd features_check

REQUIRED_DISTRO_FEATURES = "systemd"

do_install() {
    install -d ${D}${systemd_system_unitdir}
    for unit in ${SYSTEMD_SERVICE:${PN}}; do
        install -m 0644 ${UNPACKDIR}/$unit ${D}${systemd_system_unitdir}/$unit
    done
    # Mount points on the read-only root.
    install -d ${D}/data
}

SYSTEMD_SERVICE:${PN} = "boot.mount data.mount praxiskiosk-data-dirs.service var-lib-praxiskiosk.mount \
                         var-lib-systemd-timesync.mount"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

FILES:${PN} += "/data"

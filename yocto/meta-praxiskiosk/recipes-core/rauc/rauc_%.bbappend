# Our rauc-mark-good.service (files/) shadows meta-rauc's through FILESEXTRAPATHS; it is installed
# again here in case upstream's do_install changes its source path. It stays in meta-rauc's
# package rauc-mark-good. Scoped to the praxiskiosk distro.
FILESEXTRAPATHS:prepend:praxiskiosk := "${THISDIR}/files:"

SRC_URI:append:praxiskiosk = " file://rauc-mark-good.service"

do_install:append:praxiskiosk() {
    if [ "${CLASSOVERRIDE}" = "class-target" ]; then
        install -d ${D}${systemd_system_unitdir}
        sed -e 's!@BINDIR@!${bindir}!g' ${UNPACKDIR}/rauc-mark-good.service \
            > ${D}${systemd_system_unitdir}/rauc-mark-good.service
        chmod 0644 ${D}${systemd_system_unitdir}/rauc-mark-good.service
    fi
}

# Switching slots needs fw_setenv/fw_printenv (U-Boot backend, system.conf).
RDEPENDS:${PN}:append:praxiskiosk = " libubootenv-bin"

# fw_printenv/fw_setenv (used by RAUC's U-Boot backend) find the environment on the boot
# partition. Scoped to the praxiskiosk distro.
FILESEXTRAPATHS:prepend:praxiskiosk := "${THISDIR}/files:"

SRC_URI:append:praxiskiosk = " file://fw_env.config"

do_install:append:praxiskiosk() {
    if [ "${CLASSOVERRIDE}" = "class-target" ]; then
        install -d ${D}${sysconfdir}
        install -m 0644 ${UNPACKDIR}/fw_env.config ${D}${sysconfdir}/fw_env.config
    fi
}

FILES:${PN}:append:praxiskiosk = " ${sysconfdir}/fw_env.config"
CONFFILES:${PN}:append:praxiskiosk = " ${sysconfdir}/fw_env.config"

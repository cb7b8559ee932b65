# Our system.conf, and the fleet's update CA from the fleet manager's key directory.
# PRAXISKIOSK_RAUC_KEYS_DIR is set in local.conf (see yocto/README.md); keys are never committed.
# meta-rauc's rauc-conf installs both into ${nonarch_libdir}/rauc (/usr/lib/rauc since wrynose,
# "hermetic /usr"; RAUC reads its system.conf there since 1.13): system.conf's keyring path is
# filled in from the same variables, so the two cannot drift apart.
# Everything is scoped to the praxiskiosk distro: with another distro this layer changes nothing.
FILESEXTRAPATHS:prepend:praxiskiosk := "${THISDIR}/files:"
FILESEXTRAPATHS:prepend:praxiskiosk := "${@d.getVar('PRAXISKIOSK_RAUC_KEYS_DIR') + ':' if d.getVar('PRAXISKIOSK_RAUC_KEYS_DIR') else ''}"

RAUC_KEYRING_FILE:praxiskiosk = "ca.cert.pem"
# Without that CA the distro skips this recipe at parse time (SKIP_RECIPE in praxiskiosk.conf).

do_install:prepend:praxiskiosk() {
    # FILESPATH must have taken the CA from the keys directory, not meta-rauc's example.
    if ! cmp -s ${PRAXISKIOSK_RAUC_KEYS_DIR}/${RAUC_KEYRING_FILE} ${UNPACKDIR}/${RAUC_KEYRING_FILE}; then
        bbfatal "${RAUC_KEYRING_FILE} is not the one in PRAXISKIOSK_RAUC_KEYS_DIR (${PRAXISKIOSK_RAUC_KEYS_DIR})"
    fi
    sed -i -e 's|@@COMPATIBLE@@|${PRAXISKIOSK_RAUC_COMPATIBLE}|' \
        -e 's|@@KEYRING@@|${nonarch_libdir}/rauc/${RAUC_KEYRING_FILE}|' ${UNPACKDIR}/system.conf
}

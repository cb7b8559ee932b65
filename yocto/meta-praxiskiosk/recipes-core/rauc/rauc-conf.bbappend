# Our system.conf, and the fleet's update CA from the fleet manager's key directory.
# PRAXISKIOSK_RAUC_KEYS_DIR is set in local.conf (see yocto/README.md); keys are never committed.
# Everything is scoped to the praxiskiosk distro: with another distro this layer changes nothing.
FILESEXTRAPATHS:prepend:praxiskiosk := "${THISDIR}/files:"
FILESEXTRAPATHS:prepend:praxiskiosk := "${@d.getVar('PRAXISKIOSK_RAUC_KEYS_DIR') + ':' if d.getVar('PRAXISKIOSK_RAUC_KEYS_DIR') else ''}"

RAUC_KEYRING_FILE:praxiskiosk = "ca.cert.pem"

do_install:prepend:praxiskiosk() {
    if [ -z "${PRAXISKIOSK_RAUC_KEYS_DIR}" ]; then
        bbfatal "PRAXISKIOSK_RAUC_KEYS_DIR is not set: point it at the directory holding the update CA (ca.cert.pem)"
    fi
    sed -i -e 's/@@COMPATIBLE@@/${PRAXISKIOSK_RAUC_COMPATIBLE}/' ${UNPACKDIR}/system.conf
}

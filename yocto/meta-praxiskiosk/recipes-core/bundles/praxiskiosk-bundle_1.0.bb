# nooelint: oelint.var.mandatoryvar.HOMEPAGE, oelint.var.mandatoryvar.SRC_URI
# No HOMEPAGE: an update bundle of this layer, no upstream project. No SRC_URI: the bundle class
# takes its input (the image) from DEPLOY_DIR_IMAGE.
SUMMARY = "praxiskiosk RAUC update bundle (root file system slot)"
DESCRIPTION = "A signed dm-verity RAUC bundle with praxiskiosk-image for the rootfs slot \
that is not booted (system.conf: rootfs.0, rootfs.1)."
LICENSE = "MIT"

inherit bundle

RAUC_BUNDLE_COMPATIBLE = "${PRAXISKIOSK_RAUC_COMPATIBLE}"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}-${DATETIME}"
RAUC_BUNDLE_VERSION[vardepsexclude] = "DATETIME"
RAUC_BUNDLE_DESCRIPTION = "praxiskiosk for ${MACHINE}"
RAUC_BUNDLE_FORMAT = "verity"

RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "praxiskiosk-image"
RAUC_SLOT_rootfs[fstype] = "ext4"
# Only the blocks that changed are fetched when the bundle is streamed over HTTP.
RAUC_SLOT_rootfs[adaptive] = "block-hash-index"

# The signing key and certificate stay with the fleet manager: PRAXISKIOSK_RAUC_KEYS_DIR in
# local.conf names their directory (yocto/README.md). Nothing here is committed.
RAUC_KEY_FILE = "${PRAXISKIOSK_RAUC_KEYS_DIR}/signing.key.pem"
RAUC_CERT_FILE = "${PRAXISKIOSK_RAUC_KEYS_DIR}/signing.cert.pem"

python () {
    if not d.getVar('PRAXISKIOSK_RAUC_KEYS_DIR'):
        raise bb.parse.SkipRecipe("set PRAXISKIOSK_RAUC_KEYS_DIR (signing.key.pem, signing.cert.pem) to build the bundle")
}

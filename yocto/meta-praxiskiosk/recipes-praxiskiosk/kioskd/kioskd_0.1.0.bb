# nooelint: oelint.var.mandatoryvar.HOMEPAGE
# No HOMEPAGE: there is no public home page; the source is the fleet manager's git (PRAXISKIOSK_GIT_URI).
SUMMARY = "kioskd and kioskctl: the praxiskiosk video consultation kiosk"
DESCRIPTION = "The kiosk daemon (GStreamer webrtcbin, MQTT over mutual TLS, touchscreen UI) \
and the fleet manager's tool, built from the praxiskiosk repository with cargo."
SECTION = "multimedia"
# Cargo.toml: license = "MIT OR Apache-2.0". The repository has no licence text file yet, so the
# checksum covers that line (line 7); tests/yocto/check.sh recomputes it.
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=7;endline=7;md5=86b31c7756a1a7962f28b62856ed4f05"

# gstreamer-sys, gstreamer-sdp-sys and gstreamer-webrtc-sys link against these through
# pkg-config. TLS is rustls with ring: no OpenSSL; ring only needs the C cross compiler.
# Appended: the cargo class adds its own (cargo-native, the Rust toolchain).
DEPENDS += "glib-2.0 gstreamer1.0 gstreamer1.0-plugins-bad gstreamer1.0-plugins-base"

# The recipe is named after the daemon, the thing the image is for (kioskd.service, RDEPENDS on the
# GStreamer plugins it loads); it also installs kioskctl, a small helper for service technicians.
# PV follows Cargo.toml's version: rename the file when that changes.

# Where the fleet manager's copy of the repository lives; set in local.conf or the kas file.
PRAXISKIOSK_GIT_URI ?= "git://git.example.invalid/praxiskiosk.git;protocol=https"
PRAXISKIOSK_GIT_BRANCH ?= "main"
SRC_URI = "${PRAXISKIOSK_GIT_URI};branch=${PRAXISKIOSK_GIT_BRANCH}"
# A fixed commit, never AUTOREV: the image must be rebuildable bit for bit. This one is a
# placeholder (this repository's history was not reachable when the recipe was written): set it
# to the release commit, e.g. SRCREV:pn-kioskd = "<40 hex digits>" in local.conf, and run
# yocto/scripts/crates-inc.py on that commit's Cargo.lock.
SRCREV ?= "0000000000000000000000000000000000000000"

# No S: on wrynose the git fetcher unpacks into ${UNPACKDIR}/${BP} (BB_GIT_DEFAULT_DESTSUFFIX),
# which is the default S; the old S = "${WORKDIR}/git" is a fatal QA error there.

require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates pkgconfig systemd useradd

# kioskd.service runs as this user; its devices come from SupplementaryGroups= in the unit.
USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --user-group --no-create-home --home-dir ${localstatedir}/lib/praxiskiosk --shell /sbin/nologin praxiskiosk"

# The fleet CA a provisioning bundle must bring (SHA-256 of its certificate, as
# `openssl x509 -noout -fingerprint -sha256` prints it), pinned into the image's config; set it
# in local.conf or the kas file. Empty: any CA the bundle brings (its certificate must still
# name its device).
PRAXISKIOSK_FLEET_CA_SHA256 ?= ""

do_install:append() {
    install -d ${D}${sysconfdir}/praxiskiosk
    install -m 0644 ${S}/config/kioskd.toml ${D}${sysconfdir}/praxiskiosk/kioskd.toml
    if [ -n "${PRAXISKIOSK_FLEET_CA_SHA256}" ]; then
        sed -i 's|^# fleet_ca_sha256 = .*|fleet_ca_sha256 = "${PRAXISKIOSK_FLEET_CA_SHA256}"|' \
            ${D}${sysconfdir}/praxiskiosk/kioskd.toml
    fi
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/config/systemd/kioskd.service ${D}${systemd_system_unitdir}/kioskd.service
    # kioskd's journal namespace (LogNamespace=praxiskiosk): kept at most 90 days, and emptied
    # after a factory reset by the path unit, which starts the vacuum service. The namespace's
    # journald takes the first journald@praxiskiosk.conf it finds in /etc/systemd/, /run/systemd/,
    # /usr/local/lib/systemd/ and /usr/lib/systemd/ (systemd 259's config lookup; the man page's
    # synopsis names only /etc): /usr/lib is the vendor's place on a read-only root.
    install -d ${D}${nonarch_libdir}/systemd
    install -m 0644 ${S}/config/systemd/journald@praxiskiosk.conf ${D}${nonarch_libdir}/systemd/journald@praxiskiosk.conf
    for unit in praxiskiosk-journal-vacuum.path praxiskiosk-journal-vacuum.service; do
        install -m 0644 ${S}/config/systemd/$unit ${D}${systemd_system_unitdir}/$unit
    done
}

# The vacuum service has no [Install]: the path unit starts it. The systemd class packages only
# the units named here (and their sockets), so the service and the journald file are listed.
SYSTEMD_SERVICE:${PN} = "kioskd.service praxiskiosk-journal-vacuum.path"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"
FILES:${PN} += "${nonarch_libdir}/systemd/journald@praxiskiosk.conf \
                ${systemd_system_unitdir}/praxiskiosk-journal-vacuum.service"

CONFFILES:${PN} = "${sysconfdir}/praxiskiosk/kioskd.toml"

# The elements kioskd asks GStreamer for (src/media/mod.rs required_elements, codec.rs,
# screen.rs check_elements, check.rs, call/peer.rs), by the package that holds each plugin.
# Several come only with the PACKAGECONFIGs set in conf/distro/praxiskiosk.conf.
RDEPENDS:${PN} = " \
    gstreamer1.0 \
    gstreamer1.0-plugins-bad-dtls \
    gstreamer1.0-plugins-bad-inter \
    gstreamer1.0-plugins-bad-kms \
    gstreamer1.0-plugins-bad-sctp \
    gstreamer1.0-plugins-bad-srtp \
    gstreamer1.0-plugins-bad-videoparsersbad \
    gstreamer1.0-plugins-bad-webrtc \
    gstreamer1.0-plugins-bad-webrtcdsp \
    gstreamer1.0-plugins-base-alsa \
    gstreamer1.0-plugins-base-app \
    gstreamer1.0-plugins-base-audioconvert \
    gstreamer1.0-plugins-base-audioresample \
    gstreamer1.0-plugins-base-compositor \
    gstreamer1.0-plugins-base-opus \
    gstreamer1.0-plugins-base-playback \
    gstreamer1.0-plugins-base-videoconvertscale \
    gstreamer1.0-plugins-base-videorate \
    gstreamer1.0-plugins-base-volume \
    gstreamer1.0-plugins-good-debug \
    gstreamer1.0-plugins-good-level \
    gstreamer1.0-plugins-good-rtp \
    gstreamer1.0-plugins-good-rtpmanager \
    gstreamer1.0-plugins-good-video4linux2 \
    gstreamer1.0-plugins-good-videofilter \
    gstreamer1.0-plugins-good-vpx \
    libcamera-gst \
    libnice \
"
# Element → package, for the next reader:
#   queue tee capsfilter fakesink: gstreamer1.0 (coreelements)   webrtcbin: -bad-webrtc
#   nicesrc/nicesink: libnice   dtlssrtpenc: -bad-dtls   srtpenc: -bad-srtp   SCTP: -bad-sctp
#   rtpbin, jitterbuffer, funnel: -good-rtpmanager   rtp(opus|vp8|h264)(pay|depay): -good-rtp
#   opusenc/opusdec: -base-opus   decodebin: -base-playback   videoconvert videoscale:
#   -base-videoconvertscale   videorate, audioconvert, audioresample, volume: -base-<same>
#   appsrc/appsink: -base-app   compositor: -base-compositor   alsasrc/alsasink: -base-alsa
#   videobalance: -good-videofilter   level: -good-level   vp8enc/vp8dec: -good-vpx
#   v4l2src, v4l2h264enc/dec (Pi 4): -good-video4linux2   capssetter: -good-debug
#   h264parse: -bad-videoparsersbad   intervideosrc/sink: -bad-inter   kmssink: -bad-kms
#   libcamerasrc: libcamera-gst   webrtcdsp/webrtcechoprobe: -bad-webrtcdsp
# Not needed on the kiosk: videotestsrc, audiotestsrc, autovideosink, pulsesrc/pulsesink, and
# the test room's and test voice's audiomixer, filesrc, wavparse, clocksync.

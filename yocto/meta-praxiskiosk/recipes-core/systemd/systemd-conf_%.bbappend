# praxiskiosk's settings for systemd's own services, in OE-core's recipe for systemd's
# configuration (drop-ins in /usr/lib/systemd, the vendor's place on a read-only root; a file in
# /etc would still override them). Scoped to the praxiskiosk distro.
#   - systemd-timesyncd enabled (a preset), asking the fleet's NTP servers
#     (PRAXISKIOSK_NTP_SERVERS, conf/distro/praxiskiosk.conf): kioskd takes codes only once the
#     clock is synchronized.
#   - the system journal kept at most 90 days (kioskd's own journal: the kioskd recipe).
FILESEXTRAPATHS:prepend:praxiskiosk := "${THISDIR}/files:"

SRC_URI:append:praxiskiosk = " \
    file://praxiskiosk.preset \
    file://timesyncd-praxiskiosk.conf.in \
    file://journald-praxiskiosk.conf \
"

do_install:append:praxiskiosk() {
    # 50-: before systemd's own 90-systemd.preset and OE-core's 99-default.preset ("disable *");
    # the first preset file that names a unit decides.
    install -D -m 0644 ${UNPACKDIR}/praxiskiosk.preset ${D}${nonarch_libdir}/systemd/system-preset/50-praxiskiosk.preset
    install -d ${D}${nonarch_libdir}/systemd/timesyncd.conf.d
    sed 's|@NTP_SERVERS@|${PRAXISKIOSK_NTP_SERVERS}|' ${UNPACKDIR}/timesyncd-praxiskiosk.conf.in \
        > ${D}${nonarch_libdir}/systemd/timesyncd.conf.d/praxiskiosk.conf
    chmod 0644 ${D}${nonarch_libdir}/systemd/timesyncd.conf.d/praxiskiosk.conf
    install -D -m 0644 ${UNPACKDIR}/journald-praxiskiosk.conf ${D}${nonarch_libdir}/systemd/journald.conf.d/praxiskiosk.conf
}

FILES:${PN}:append:praxiskiosk = " \
    ${nonarch_libdir}/systemd/system-preset/50-praxiskiosk.preset \
    ${nonarch_libdir}/systemd/timesyncd.conf.d/ \
"

#!/usr/bin/env bash
# make demo: a whole video consultation on one machine, on loopback only, secured as in the field.
#
#   fleet:     kioskctl ca init, device enroll, broker config → CA, the kiosk's provisioning bundle,
#              Mosquitto with mutual TLS and per-device/per-session access control
#   practice:  kioskctl appointment create  → code + the doctor's join link
#   doctor:    kioskctl doctor --link        → joins the session, hangs up after DEMO_SECONDS+2 s
#   kiosk:     kioskd, provisioned from its bundle; driven through its control socket as the
#              practice staff would touch it:
#              enter the code, confirm the name and consent → waiting room → call
#
# Everything lives in target/demo/ (wiped at the start): the fleet CA, the broker's files, the
# kiosk's "boot partition", config, state directory and control socket, and one log per process. Run from the repository root
# after `cargo build --bins`; `make demo` does both.
set -euo pipefail

DEMO_SECONDS=${DEMO_SECONDS:-20}
# kioskctl (a headless webrtcbin peer) or browser (the doctor's web page in Debian's Chromium).
DOCTOR=${DOCTOR:-kioskctl}
case $DOCTOR in
    kioskctl | browser) ;;
    *)
        printf 'DOCTOR must be kioskctl or browser, not %q.\n' "$DOCTOR" >&2
        exit 2
        ;;
esac
# Chromium offers ICE candidates on every interface it sees and cannot be pinned to 127.0.0.1:
# with the browser, the whole demo runs in a network namespace that holds only loopback.
if [[ $DOCTOR == browser && -z ${PRAXISKIOSK_DEMO_NETNS:-} ]]; then
    if ((EUID != 0)); then
        printf 'DOCTOR=browser runs the demo in a network namespace of its own (unshare --net): run it as root.\n' >&2
        exit 2
    fi
    exec env PRAXISKIOSK_DEMO_NETNS=1 unshare --net -- bash -c 'ip link set lo up && exec "$0"' "$0"
fi
WORK=target/demo
KIOSKD=target/debug/kioskd
KIOSKCTL=target/debug/kioskctl
# kioskctl finds the fleet CA (and its own certificate) here.
export PRAXISKIOSK_CA_DIR=target/demo/ca
DEVICE=demo-kiosk

say() { printf '%s\n' "$*"; }
die() {
    printf '\nDemo fehlgeschlagen / demo failed: %s\n' "$*" >&2
    exit 1
}

# --- preconditions --------------------------------------------------------------------------

if [[ ! -f Cargo.toml || ! -f config/demo/kioskd.toml ]] || ! grep -q '^name = "praxiskiosk"' Cargo.toml; then
    printf 'Bitte im Wurzelverzeichnis des Repositorys starten / please run this from the repository root:\n' >&2
    printf '  make demo   (or: cargo build --bins && config/demo/run-demo.sh)\n' >&2
    exit 2
fi
if [[ ! -x $KIOSKD || ! -x $KIOSKCTL ]]; then
    printf 'kioskd/kioskctl are not built yet: run "cargo build --bins" first (make demo does).\n' >&2
    exit 2
fi
if [[ ! $DEMO_SECONDS =~ ^[0-9]+$ ]] || ((DEMO_SECONDS < 4)); then
    printf 'DEMO_SECONDS must be a whole number of at least 4, not %q.\n' "$DEMO_SECONDS" >&2
    exit 2
fi
for tool in mosquitto jq; do
    command -v "$tool" >/dev/null || {
        printf '%s is missing: run "make deps" (installs it).\n' "$tool" >&2
        exit 2
    }
done

if [[ $DOCTOR == kioskctl && (-n ${DISPLAY:-} || -n ${WAYLAND_DISPLAY:-}) ]]; then
    HEADLESS=false
else
    HEADLESS=true
fi

# --- cleanup, also on failure ---------------------------------------------------------------

MOSQUITTO_PID="" NGINX_PID="" KIOSKD_PID="" DOCTOR_PID="" SLEEP_PID="" BROWSER_PID=""

# Stops one process: `signal`, then up to `grace` seconds, then SIGKILL.
stop() {
    local pid=$1 signal=$2 grace=$3 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [[ -z $SLEEP_PID ]] || kill "$SLEEP_PID" 2>/dev/null || true
    # The doctor says bye on SIGINT (its Ctrl-C); kioskd ends a call and publishes offline on
    # SIGTERM, so the broker goes last.
        stop "$DOCTOR_PID" INT 5
    stop "$BROWSER_PID" TERM 5
    stop "$KIOSKD_PID" TERM 10
    stop "$NGINX_PID" TERM 5
    stop "$MOSQUITTO_PID" TERM 5
    if ((status != 0)); then
                for log in "$WORK"/mosquitto.log "$WORK"/nginx/error.log "$WORK"/kioskd.log "$WORK"/doctor.log "$WORK"/doctor.jsonl "$WORK"/browser.log; do
            [[ -s $log ]] || continue
            printf '\n--- last 20 lines of %s ---\n' "$log" >&2
            tail -n 20 "$log" >&2
        done
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$WORK"
mkdir -p "$WORK"

# --- the fleet: CA, the kiosk's bundle, the broker -------------------------------------------

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

"$KIOSKCTL" ca init "Demo-Praxis" >"$WORK/fleet.log" || die "kioskctl ca init failed"

# Four loopback ports in a row that look free: devices (mutual TLS), doctors' apps, browsers'
# MQTT over WebSocket, and nginx (the doctor's page and, proxied, that WebSocket).
# One can still be taken before Mosquitto binds it; then Mosquitto exits and we try again.
PORT=""
for _ in $(seq 1 20); do
    base=$((20000 + RANDOM % 40000))
    port_open "$base" || port_open $((base + 1)) || port_open $((base + 2)) || port_open $((base + 3)) && continue
    rm -rf "$WORK/broker"
        "$KIOSKCTL" broker config --out "$WORK/broker" --host 127.0.0.1 --bind 127.0.0.1 \
        --web-root "$PWD/web/doctor" --web-port $((base + 3)) \
        --device-port "$base" --doctor-port $((base + 1)) --websocket-port $((base + 2)) \
        >>"$WORK/fleet.log" || die "kioskctl broker config failed (see $WORK/fleet.log)"
    # Mosquitto started as root switches to its own user, which must own its files.
    if ((EUID == 0)) && id mosquitto >/dev/null 2>&1; then
        chown -R mosquitto: "$WORK/broker"
    fi
    mosquitto -c "$WORK/broker/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
    MOSQUITTO_PID=$!
    for ((i = 0; i < 50; i++)); do
        kill -0 "$MOSQUITTO_PID" 2>/dev/null || break
        # Alive and answering: a listener that is not ours would show as Mosquitto having exited.
        if port_open "$base" && port_open $((base + 1)) && sleep 0.2 && kill -0 "$MOSQUITTO_PID" 2>/dev/null; then
            PORT=$base
            break 2
        fi
        sleep 0.1
    done
    stop "$MOSQUITTO_PID" TERM 2
    MOSQUITTO_PID=""
done
[[ -n $PORT ]] || die "Mosquitto did not start on any free ports (see $WORK/mosquitto.log)"
BROKER=mqtts://127.0.0.1:$PORT
DOCTOR_BROKER=mqtts://127.0.0.1:$((PORT + 1))
export PRAXISKIOSK_BROKER=$BROKER
say "Broker: Mosquitto auf / on 127.0.0.1:$PORT (Geräte, gegenseitiges TLS / devices, mutual TLS), :$((PORT + 1)) (Ärzte / doctors)"

# The doctor's page as a practice serves it: nginx with the site `broker config --web-root`
# wrote, in a main configuration of the demo's own (nothing of the host's nginx is touched).
if [[ $DOCTOR == browser ]]; then
    command -v nginx >/dev/null || die "nginx is missing (make deps installs it)"
    mkdir -p "$WORK/nginx/tmp"
    # Absolute: nginx reads relative paths from its prefix.
    N=$(realpath "$WORK/nginx")
    cat >"$N/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fastcgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
    include $(realpath "$WORK/broker/nginx-praxiskiosk.conf");
}
NGINX
    # As root, nginx's workers would run as nobody, who cannot read the demo's directory.
    ((EUID == 0)) && sed -i '1i user root;' "$N/nginx.conf"
    nginx -e "$N/error.log" -p "$N" -c "$N/nginx.conf" &
    NGINX_PID=$!
    for ((i = 0; i < 50; i++)); do
        port_open $((PORT + 3)) && break
        kill -0 "$NGINX_PID" 2>/dev/null || die "nginx did not start (see $N/error.log)"
        sleep 0.1
    done
    say "Web: nginx auf / on https://127.0.0.1:$((PORT + 3))/ (Arzt-Seite und ihr MQTT / the doctor's page and its MQTT)"
fi

mkdir -p "$WORK/boot"
"$KIOSKCTL" device enroll "$DEVICE" --room "Demo-Sprechzimmer" --out "$WORK/boot/praxiskiosk-provision.json" \
    >>"$WORK/fleet.log" || die "kioskctl device enroll failed (see $WORK/fleet.log)"
say "Flotte: Kiosk $DEVICE eingeschrieben / enrolled, Bereitstellungsdatei / bundle in $WORK/boot/"

# --- kiosk ----------------------------------------------------------------------------------

SOCKET=$WORK/control.sock
sink_rule='s/^video_sink = "autovideosink"/video_sink = "fakesink"/'
$HEADLESS || sink_rule=''
sed -e "s|\"target/demo/state\"|\"$WORK/state\"|" \
    -e "s|\"target/demo/control.sock\"|\"$SOCKET\"|" \
    -e "$sink_rule" \
    config/demo/kioskd.toml >"$WORK/kioskd.toml"
# A changed demo config must not silently point the kiosk elsewhere.
# shellcheck disable=SC2015 # die only exits, so A && B || die is safe
grep -q "^provisioning_bundle = \"$WORK/boot/praxiskiosk-provision.json\"" "$WORK/kioskd.toml" &&
    grep -q "^control_socket = \"$SOCKET\"" "$WORK/kioskd.toml" &&
    grep -q "^state_dir = \"$WORK/state\"" "$WORK/kioskd.toml" ||
    die "config/demo/kioskd.toml no longer has the provisioning_bundle, state_dir or control_socket lines this script uses"

local_ctl() { "$KIOSKCTL" local --socket "$SOCKET" "$@"; }
kiosk_state() { local_ctl status 2>/dev/null | jq -r '.state // empty' 2>/dev/null || true; }

"$KIOSKD" --config "$WORK/kioskd.toml" >"$WORK/kioskd.log" 2>&1 &
KIOSKD_PID=$!
for ((i = 0; ; i++)); do
    if ! kill -0 "$KIOSKD_PID" 2>/dev/null; then
        wait "$KIOSKD_PID" && code=0 || code=$?
        case $code in
            69) why="GStreamer elements missing (make deps)" ;;
            74) why="state directory or control socket unusable" ;;
            78) why="bad config" ;;
            *) why="exit code $code" ;;
        esac
        KIOSKD_PID=""
        die "kioskd stopped at start: $why (see $WORK/kioskd.log)"
    fi
    local_ctl status >/dev/null 2>&1 && break
    ((i < 150)) || die "kioskd's control socket did not answer within 15 s (see $WORK/kioskd.log)"
    sleep 0.1
done
for ((i = 0; ; i++)); do
    [[ $(kiosk_state) == idle && ! -e $WORK/boot/praxiskiosk-provision.json ]] && break
    ((i < 150)) || die "kioskd did not provision itself from its bundle within 15 s (see $WORK/kioskd.log)"
    sleep 0.1
done
say "Kiosk: kioskd eingerichtet und bereit / provisioned and ready ($(kiosk_state)), log $WORK/kioskd.log"
if $HEADLESS; then
    say "Kiosk: kein Bildschirm, das Bild geht an fakesink / no display, remote video goes to fakesink"
fi

# --- the practice books the appointment -----------------------------------------------------

PAGE_ORIGIN=127.0.0.1:$((PORT + 3))
created=$("$KIOSKCTL" appointment create --device "$DEVICE" \
    --join-url "https://$PAGE_ORIGIN/" --doctor-broker "wss://$PAGE_ORIGIN/mqtt" \
    --doctor "Dr. med. Anna Muster" --patient "Max Mustermann" --json) ||
    die "kioskctl appointment create failed"
CODE=$(jq -r .code <<<"$created")
SESSION=$(jq -r .session <<<"$created")
LINK=$(jq -r .join_link <<<"$created")
APPOINTMENT=$(jq -r .appointment <<<"$created")
say "Praxis: Termin angelegt / appointment created: $APPOINTMENT, Code $CODE"

# The appointment reaches the kiosk through the broker; it is there once the kiosk has stored it.
for ((i = 0; ; i++)); do
    [[ -f $WORK/state/appointments/$APPOINTMENT.json ]] && break
    ((i < 100)) || die "the kiosk did not receive the appointment within 10 s (see $WORK/kioskd.log)"
    sleep 0.1
done
say "Kiosk: Termin empfangen / appointment received"

# --- the doctor joins -----------------------------------------------------------------------

# One command to the browser driver, one JSON answer back.
browser() {
    local answer
    printf '%s\n' "$1" >&"$TO_BROWSER"
    IFS= read -r -t 30 answer <&"$FROM_BROWSER" || die "the browser driver did not answer $1 (see $WORK/browser.log)"
    [[ $(jq -r .ok <<<"$answer") == true ]] || die "the browser refused $1: $answer"
    printf '%s' "$answer"
}
page_state() { browser '{"cmd":"state"}' | jq -r .state; }

if [[ $DOCTOR == browser ]]; then
    # Debian's Chromium, headless, fake camera and microphone; the page comes from the broker.
    coproc BROWSER { exec node tests/browser/driver.mjs 2>"$WORK/browser.log"; }
    # Command substitutions cannot use a coprocess's descriptors; copies of them they can.
    exec {TO_BROWSER}>&"${BROWSER[1]}" {FROM_BROWSER}<&"${BROWSER[0]}"
    IFS= read -r -t 30 ready <&"$FROM_BROWSER" || die "Chromium did not start (see $WORK/browser.log)"
    [[ $(jq -r .ready <<<"$ready") == true ]] || die "Chromium did not start: $ready"
    browser "$(jq -cn --arg url "$LINK" '{cmd:"open",url:$url}')" >/dev/null
    DOCTOR_START=$(date +%s%N)
    for ((i = 0; ; i++)); do
        [[ $(page_state) == waiting || $(page_state) == patient-waiting ]] && break
        ((i < 150)) || die "the doctor's page did not reach the waiting room within 15 s: $(browser '{"cmd":"state"}')"
        sleep 0.1
    done
else
    doctor_args=(--broker "$DOCTOR_BROKER" doctor --link "$LINK"
        --ice-local 127.0.0.1 --json --hangup-after $((DEMO_SECONDS + 2)))
    $HEADLESS || doctor_args+=(--show)
    "$KIOSKCTL" "${doctor_args[@]}" >"$WORK/doctor.jsonl" 2>"$WORK/doctor.log" &
    DOCTOR_PID=$!
    DOCTOR_START=$(date +%s%N)
    for ((i = 0; ; i++)); do
        grep -q '"event":"waiting"' "$WORK/doctor.jsonl" && break
        kill -0 "$DOCTOR_PID" 2>/dev/null || die "the doctor peer stopped (see $WORK/doctor.log)"
        ((i < 150)) || die "the doctor peer did not connect to the broker within 15 s (see $WORK/doctor.log)"
        sleep 0.1
    done
fi
say "Arzt: wartet im Termin / doctor waiting in session $SESSION"

# --- the staff at the kiosk -----------------------------------------------------------------

reply=$(local_ctl enter-code "$CODE" 2>&1) || die "the kiosk refused the code: $reply"
say "Kiosk: Code akzeptiert / code accepted"
reply=$(local_ctl accept 2>&1) || die "the kiosk refused the consent: $reply"
CONSENT=$(date +%s%N)
say "Kiosk: Name bestätigt, Einwilligung erteilt / name confirmed, consent given → $(kiosk_state)"

for ((i = 0; ; i++)); do
    state=$(kiosk_state)
    [[ $state == in_call ]] && break
    if [[ $state == error ]]; then
        die "the kiosk went to error: $(local_ctl status 2>/dev/null || true) (see $WORK/kioskd.log and $WORK/doctor.log)"
    fi
    ((i < 300)) || die "the kiosk did not reach in_call within 30 s (state: ${state:-unknown}; see $WORK/kioskd.log and $WORK/doctor.log)"
    sleep 0.1
done
IN_CALL=$(date +%s%N)
say "Kiosk: Gespräch läuft / in call, $(((IN_CALL - CONSENT) / 1000000)) ms nach Einwilligung / after consent"

# Statistics after DEMO_SECONDS-2 s of call, but at the latest 1.5 s before the doctor hangs up.
wait_ms=$(((DEMO_SECONDS - 2) * 1000))
latest_ms=$(((DEMO_SECONDS + 2) * 1000 - 1500 - (IN_CALL - DOCTOR_START) / 1000000))
((wait_ms > latest_ms)) && wait_ms=$latest_ms
((wait_ms < 0)) && wait_ms=0
say "… $((wait_ms / 1000)) s Gespräch / of call …"
# In the background, so that Ctrl-C (the INT trap) need not wait for the sleep to end.
sleep "$((wait_ms / 1000)).$(printf "%03d" $((wait_ms % 1000)))" &
SLEEP_PID=$!
wait "$SLEEP_PID"
SLEEP_PID=""
KIOSK_STATS=$(local_ctl stats) || die "the kiosk gave no statistics"
[[ $(jq -r .state <<<"$KIOSK_STATS") == in_call ]] ||
    say "warning: the statistics were taken after the call ended ($(jq -r .state <<<"$KIOSK_STATS"))"

# --- the doctor hangs up --------------------------------------------------------------------

if [[ $DOCTOR == browser ]]; then
    page=$(browser '{"cmd":"stats"}' | jq -c .stats)
    browser "$(jq -cn --arg path "$PWD/$WORK/doctor.png" '{cmd:"screenshot",path:$path}')" >/dev/null
    browser '{"cmd":"click","id":"hangup"}' >/dev/null
    # The page's own statistics, in the table's words; what it does not measure stays empty.
    DOCTOR_STATS=$(jq -c '{video_frames_received: .videoFramesDecoded, audio_buffers_received: .audioPacketsReceived,
        video_codec: .videoCodec}' <<<"$page")
    for ((i = 0; ; i++)); do
        [[ $(page_state) == ended ]] && break
        ((i < 100)) || die "the doctor's page did not show the end of the call within 10 s"
        sleep 0.1
    done
else
    for ((i = 0; ; i++)); do
        kill -0 "$DOCTOR_PID" 2>/dev/null || break
        ((i < 200)) || die "the doctor peer did not hang up within 20 s of its time (see $WORK/doctor.log)"
        sleep 0.1
    done
    wait "$DOCTOR_PID" && code=0 || code=$?
    DOCTOR_PID=""
    ((code == 0)) || die "the doctor peer failed with exit code $code (see $WORK/doctor.log)"
    DOCTOR_STATS=$( (grep '"event":"summary"' "$WORK/doctor.jsonl" || true) | tail -n 1 | jq -c .stats)
    [[ -n $DOCTOR_STATS && $DOCTOR_STATS != null ]] || die "the doctor peer printed no summary (see $WORK/doctor.jsonl)"
fi
say "Arzt: aufgelegt / doctor hung up"

saw_ended=false
for ((i = 0; ; i++)); do
    state=$(kiosk_state)
    [[ $state == ended ]] && saw_ended=true
    [[ $state == idle ]] && break
    ((i < 100)) || die "the kiosk did not return to idle within 10 s (state: ${state:-unknown}; see $WORK/kioskd.log)"
    sleep 0.1
done
if $saw_ended; then
    say "Kiosk: Gespräch beendet, wieder bereit / call ended, back to idle"
else
    say "Kiosk: wieder bereit / back to idle"
fi

# --- summary --------------------------------------------------------------------------------

jq -rn --argjson k "$KIOSK_STATS" --argjson d "$DOCTOR_STATS" '
    def pad(n): tostring | if length >= n then . else . + ([range(n - length)] | map(" ") | join("")) end;
    def lpad(n): tostring | if length >= n then . else ([range(n - length)] | map(" ") | join("")) + . end;
    def opt(f): if f == null then "–" else f | tostring end;
    def one: if . == null then "–" else tostring | if contains(".") then . else . + ".0" end end;
    def row($t; $a; $b): "  \($t | pad(40)) \($a | lpad(14)) \($b | lpad(14))";
    ($k.stats) as $ks |
    "",
    "Zusammenfassung / summary",
    row(""; "Kiosk → Arzt"; "Arzt → Kiosk"),
    row("Videobilder / video frames"; $d.video_frames_received; $ks.video_frames_received),
    row("Audiopuffer / audio buffers"; $d.audio_buffers_received; $ks.audio_buffers_received),
    row("Bitrate kbit/s, am Kiosk / at the kiosk"; $ks.bitrate_out_kbps | one; $ks.bitrate_in_kbps | one),
    row("Bitrate kbit/s, beim Arzt / at the doctor"; $d.bitrate_in_kbps | one; $d.bitrate_out_kbps | one),
    row("Pakete verloren / packets lost"; opt($d.packets_lost); $ks.packets_lost),
    "",
    "  \("Erstes Bild nach Einwilligung / first frame after consent" | pad(58)) \(opt($ks.first_frame_ms)) ms",
    "  \("Umlaufzeit / round trip time (kiosk, doctor)" | pad(58)) \(opt($ks.rtt_ms)) ms, \(opt($d.rtt_ms)) ms",
    "  \("ICE (kiosk, doctor)" | pad(58)) \($ks.ice_state), \(opt($d.ice_state))",
    "  \("Videocodec / video codec" | pad(58)) \(opt($ks.video_codec))",
    "  \("Messung nach Einwilligung / measured after consent" | pad(58)) \($ks.elapsed_s * 10 | floor / 10) s",
    "  (Kiosk: gemessen während des Gesprächs / measured during the call; Arzt / doctor: beim Auflegen / at hang-up)"
'

jq -e -n --argjson k "$KIOSK_STATS" --argjson d "$DOCTOR_STATS" \
    '$k.stats.video_frames_received > 0 and $d.video_frames_received > 0
     and $k.stats.audio_buffers_received > 0 and $d.audio_buffers_received > 0' >/dev/null ||
    die "media did not flow both ways (see the table above and $WORK/kioskd.log)"
say ""
if [[ $DOCTOR == browser ]]; then
    say "Arzt im Browser / doctor in the browser: Bildschirmfoto / screenshot $WORK/doctor.png"
fi
say "Demo erfolgreich / demo passed. Logs: $WORK/"

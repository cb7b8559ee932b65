#!/usr/bin/env bash
# The systemd unit, checked by systemd's own tools: `systemd-analyze verify` must accept it, and
# `systemd-analyze security` scores its sandbox (the score is recorded in the README; a score above
# MAX_EXPOSURE fails). Where systemd-analyze is missing, says so and skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

UNIT=config/systemd/kioskd.service
MAX_EXPOSURE=2.0
say() { printf 'systemd-check: %s\n' "$*"; }

if ! command -v systemd-analyze >/dev/null; then
    say "skipped: systemd-analyze is not installed (systemd absent), so the unit was not checked"
    exit 0
fi
[[ -x target/debug/kioskd && -x target/debug/kioskctl ]] || cargo build --locked --bins

# verify checks that ExecStart and ExecStartPre exist: point them at the binary just built, in
# a copy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^\(ExecStart[A-Za-z]*=[-+]*\)/usr/bin/kioskd |\1$PWD/target/debug/kioskd |" "$UNIT" >"$work/kioskd.service"
if ! out=$(systemd-analyze verify "$work/kioskd.service" 2>&1) || [[ -n $out ]]; then
    say "FAIL verify: $out"
    exit 1
fi
say "ok    systemd-analyze verify accepts $UNIT"

# The broker host's sweep of expired doctor logins: a timer and its oneshot service.
sed "s|^ExecStart=/usr/bin/kioskctl |ExecStart=$PWD/target/debug/kioskctl |; s|^EnvironmentFile=.*|EnvironmentFile=-/dev/null|" \
    config/systemd/praxiskiosk-broker-sweep.service >"$work/praxiskiosk-broker-sweep.service"
cp config/systemd/praxiskiosk-broker-sweep.timer "$work/"
if ! out=$(systemd-analyze verify "$work/praxiskiosk-broker-sweep.timer" "$work/praxiskiosk-broker-sweep.service" 2>&1) || [[ -n $out ]]; then
    say "FAIL verify: $out"
    exit 1
fi
say "ok    systemd-analyze verify accepts the broker's sweep timer and service"

# The kiosk's journal vacuum after a factory reset: a path unit and its oneshot service.
cp config/systemd/praxiskiosk-journal-vacuum.path config/systemd/praxiskiosk-journal-vacuum.service "$work/"
if ! out=$(systemd-analyze verify "$work/praxiskiosk-journal-vacuum.path" "$work/praxiskiosk-journal-vacuum.service" 2>&1) || [[ -n $out ]]; then
    say "FAIL verify: $out"
    exit 1
fi
say "ok    systemd-analyze verify accepts the journal vacuum's path unit and service"

report=$(systemd-analyze security --offline=true --no-pager "$work/kioskd.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for kioskd.service: \([0-9.]*\).*/\1/p' <<<"$report")
[[ -n $score ]] || { say "FAIL security: no score in: $report"; exit 1; }
if awk -v s="$score" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(s > max) }'; then
    say "FAIL security: exposure $score is above $MAX_EXPOSURE"
    grep -E '^✗' <<<"$report" >&2 || true
    exit 1
fi
say "ok    systemd-analyze security: exposure $score (of 10; at most $MAX_EXPOSURE allowed)"

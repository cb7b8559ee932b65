#!/bin/sh
# Runs a command (kioskd) with its output in a journald of its own for the journal namespace
# `praxiskiosk`, configured by the given journald@praxiskiosk.conf, as systemd runs kioskd
# (LogNamespace=praxiskiosk). Started under `unshare -m` by tests/e2e/journal.rs: tmpfs over
# /run/systemd, /var/log and /etc/systemd keep the host's journal, logs and configuration out of
# reach and unchanged. journald's pid goes to $JOURNALD_PID_FILE, for the test to stop it.
#
#   unshare -m --propagation private in-journal.sh CONF COMMAND [ARGS…]
set -eu
conf=$1
shift
for dir in /run/systemd /var/log /etc/systemd; do
    mount -t tmpfs -o mode=0755 praxiskiosk-journal-test "$dir"
done
cp "$conf" /etc/systemd/journald@praxiskiosk.conf
# journald takes $RUNTIME_DIRECTORY (kioskd's, here) for its own sockets: not ours to give it.
env -u RUNTIME_DIRECTORY /lib/systemd/systemd-journald praxiskiosk </dev/null >"${JOURNALD_LOG:-/dev/null}" 2>&1 &
echo $! >"$JOURNALD_PID_FILE"
tries=0
until [ -S /run/systemd/journal.praxiskiosk/stdout ]; do
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || { echo "in-journal: journald did not start" >&2; exit 1; }
    sleep 0.05
done
# systemd-cat of systemd 252 has no --namespace: it finds the namespace's stream socket where
# the default one would be.
mkdir /run/systemd/journal
mount --bind /run/systemd/journal.praxiskiosk /run/systemd/journal
exec systemd-cat --identifier=kioskd "$@"

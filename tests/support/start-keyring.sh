#!/usr/bin/env bash
# Start a private, unlocked gnome-keyring (Secret Service) for tests, then run a command in it.
#
#   dbus-run-session -- bash tests/support/start-keyring.sh cargo nextest run ...
#
# Must run inside a session bus (dbus-run-session provides one). It
#   1. creates fresh XDG_DATA_HOME and XDG_RUNTIME_DIR directories, so the real user's keyrings
#      are never touched and every run starts from an empty login keyring;
#   2. starts gnome-keyring-daemon with only the secrets component, unlocking (creating) the
#      login keyring with a throwaway password fed on stdin;
#   3. waits until org.freedesktop.secrets has an owner on the bus. Without this wait the first
#      client can trigger D-Bus activation of a second daemon and its first write fails;
#   4. execs "$@" with the daemon's variables exported.
#
# It can also be sourced (`. tests/support/start-keyring.sh`) from a bash script already inside a
# session bus: with no arguments it then only sets up and exports, and returns.
#
# Clean-up: the daemon exits when dbus-run-session ends its bus. The two temp directories are
# removed by a small watcher once the command (this process, after exec) has exited.
# Needs: dbus (dbus-run-session, dbus-send), gnome-keyring. `secret-tool` (libsecret-tools) is
# handy for cross-checks but not needed here.

__envref_keyring_start() {
    local password="envref-test-keyring" # unlocks a keyring that lives and dies with this run
    local tmp_base="${TMPDIR:-/tmp}"
    local out line name i

    if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
        echo "start-keyring: no session bus; run me as: dbus-run-session -- bash $0 COMMAND..." >&2
        return 1
    fi
    if ! command -v gnome-keyring-daemon >/dev/null 2>&1; then
        echo "start-keyring: gnome-keyring-daemon not found (apt-get install gnome-keyring)" >&2
        return 127
    fi
    if ! command -v dbus-send >/dev/null 2>&1; then
        echo "start-keyring: dbus-send not found (apt-get install dbus-bin)" >&2
        return 127
    fi

    XDG_DATA_HOME=$(mktemp -d "$tmp_base/envref-keyring-data.XXXXXX") || return 1
    XDG_RUNTIME_DIR=$(mktemp -d "$tmp_base/envref-keyring-run.XXXXXX") || return 1
    chmod 700 "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
    export XDG_DATA_HOME XDG_RUNTIME_DIR

    # Remove the directories when the process that runs the command (this PID, kept by exec)
    # is gone. Detached from our stdio so nobody waits on it for EOF.
    local owner=$$
    (
        trap '' HUP INT TERM
        if ! tail --pid="$owner" -f /dev/null 2>/dev/null; then
            while kill -0 "$owner" 2>/dev/null; do sleep 1; done
        fi
        sleep 1 # let the daemon notice the bus is gone before its files disappear
        rm -rf -- "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
    ) </dev/null >/dev/null 2>&1 &
    disown 2>/dev/null || true

    # --daemonize prints NAME=value lines (GNOME_KEYRING_CONTROL, sometimes SSH_AUTH_SOCK).
    if ! out=$(printf '%s' "$password" |
        gnome-keyring-daemon --unlock --components=secrets --daemonize 2>/dev/null); then
        echo "start-keyring: gnome-keyring-daemon failed to start" >&2
        return 1
    fi
    while IFS= read -r line; do
        name=${line%%=*}
        if [ "$name" != "$line" ] && [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
            export "$name=${line#*=}"
        fi
    done <<<"$out"

    # Poll for the bus name (measured ~80 ms here); give up after about 5 s.
    for ((i = 0; i < 50; i++)); do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
            grep -q 'boolean true'; then
            return 0
        fi
        sleep 0.1
    done
    echo "start-keyring: org.freedesktop.secrets did not appear on the session bus within 5 s" >&2
    return 1
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: set up, and exec the arguments if any were given.
    __envref_keyring_start || return $?
    unset -f __envref_keyring_start
    if [ $# -gt 0 ]; then exec "$@"; fi
    return 0
fi

if [ $# -eq 0 ]; then
    echo "usage: dbus-run-session -- bash $0 COMMAND [ARG...]" >&2
    exit 2
fi
__envref_keyring_start || exit $?
unset -f __envref_keyring_start
exec "$@"

#!/bin/sh
#
# greenc-upgrade.sh: replace a running greenc's binary with no failed request,
# and roll back on its own when the new one does not serve.
#
#     contrib/greenc-upgrade.sh PIDFILE URL [TIMEOUT]
#
# Install the new binary over the old one first, then run this. The steps are
# the nginx procedure (README, "Signals"):
#   1. USR2 to the master: it renames PIDFILE to PIDFILE.oldbin and starts the
#      new binary on the same listening sockets; both generations serve.
#   2. Wait for the new master's workers, then WINCH to the old master: its
#      workers finish what they serve and exit; only the new binary serves now.
#   3. URL must answer 2xx or 3xx (curl). Then QUIT to the old master: done.
#      Otherwise roll back: HUP to the old master (its workers start again),
#      QUIT to the new one; the old master takes PIDFILE back.
# Exit status: 0 upgraded, 1 rolled back, 2 could not start the upgrade.

set -u

pidfile=${1:?usage: $0 PIDFILE URL [TIMEOUT]}
url=${2:?usage: $0 PIDFILE URL [TIMEOUT]}
timeout=${3:-30}
oldbin="$pidfile.oldbin"

say() { echo "greenc-upgrade: $*" >&2; }

# wait_until SECONDS COMMAND...: polls every 0.1 s
wait_until() {
    n=$(($1 * 10)); shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

children() { cat /proc/"$1"/task/*/children 2>/dev/null; }
has_children() { [ -n "$(children "$1")" ]; }
# the children of $1 other than $2 (the new master is a child of the old one)
others() { children "$1" | tr ' ' '\n' | grep -v -x -e "$2" -e ''; }
no_children_but() { [ -z "$(others "$1" "$2")" ]; }
children_but() { [ -n "$(others "$1" "$2")" ]; }
new_master_up() { [ -f "$oldbin" ] && [ -s "$pidfile" ] && [ "$(cat "$pidfile")" != "$old" ]; }
serves() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" | grep -q '^[23]'; }
gone() { ! kill -0 "$1" 2>/dev/null; }

old=$(cat "$pidfile" 2>/dev/null) || { say "no pid file $pidfile"; exit 2; }
kill -0 "$old" 2>/dev/null || { say "no master with pid $old"; exit 2; }

say "USR2 to master $old"
kill -USR2 "$old"
if ! wait_until "$timeout" new_master_up; then
    say "the new binary did not start (see the error log); master $old serves on"
    exit 2
fi
new=$(cat "$pidfile")
say "new master $new"

if wait_until "$timeout" has_children "$new"; then
    say "WINCH to the old master $old: its workers drain"
    kill -WINCH "$old"
    if wait_until "$timeout" no_children_but "$old" "$new" && serves; then
        say "the new binary serves $url: QUIT to the old master"
        kill -QUIT "$old"
        wait_until "$timeout" gone "$old"
        say "upgraded: master $new"
        exit 0
    fi
fi

say "the new binary does not serve $url: rolling back"
kill -HUP "$old"
wait_until "$timeout" children_but "$old" "$new"
kill -QUIT "$new"
wait_until "$timeout" gone "$new"
say "rolled back: master $old"
exit 1

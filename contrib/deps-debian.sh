#!/bin/sh
#
# Install the Debian 12 packages greenc needs.
#
#   contrib/deps-debian.sh           to build: compiler, Python, PCRE2, OpenSSL, llhttp
#   contrib/deps-debian.sh --test    also what "make test" and "make test-asan" need
#   contrib/deps-debian.sh --bench   also the benchmark tools (wrk, gunicorn, uwsgi, nginx)
#
# Runs apt-get through sudo unless already root.  Quiet: apt's output is shown
# only when something fails.

set -eu

usage()
{
    echo "usage: $0 [--test] [--bench]" >&2
    exit 2
}

packages="build-essential pkg-config python3-dev libpcre2-dev libssl-dev node-llhttp curl"

for option
do
    case "$option" in
        --test)   packages="$packages python3-pytest python3-flask curl procps python3-django python3-falcon python3-pyramid python3-bottle python3-werkzeug slowhttptest python3-h11 wrk iproute2 groff-base logrotate python3-prometheus-client testssl.sh python3-yaml haproxy clang libclang-rt-14-dev" ;;
        --bench)  packages="$packages wrk gunicorn uwsgi uwsgi-plugin-python3 util-linux python3-flask nginx-light nghttp2-client valgrind python3-waitress" ;;
        -h|--help) usage ;;
        *)        echo "$0: unknown option \"$option\"" >&2; usage ;;
    esac
done

if [ "`id -u`" -eq 0 ]; then
    sudo=
elif command -v sudo > /dev/null 2>&1; then
    sudo="sudo"
else
    echo "$0: not root and sudo is not installed: run this script as root." >&2
    exit 1
fi

if ! command -v apt-get > /dev/null 2>&1; then
    echo "$0: apt-get was not found; this script is for Debian 12 and its derivatives." >&2
    exit 1
fi

log=`mktemp "${TMPDIR:-/tmp}/greenc-deps.XXXXXX"`
trap 'rm -f "$log"' EXIT

run()
{
    if ! "$@" > "$log" 2>&1 < /dev/null; then
        echo "$0: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

export DEBIAN_FRONTEND=noninteractive

echo "installing:" `echo $packages | tr ' ' '\n' | sort -u`
run $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
run $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages
echo "done"

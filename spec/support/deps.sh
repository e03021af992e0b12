#!/bin/sh
# spec/support/deps.sh: make sure the Debian packages dockerpty builds, tests
# and lints with are installed (`make deps`, and `make test` before the specs).
# All present: exit 0 quietly, after a single dpkg-query call. Some missing:
# as root, apt-get update + install them (one retry on failure); otherwise
# print the exact apt-get line to run and exit 1. Never reads stdin (CI).
set -eu

# Build and specs; lint; docs (make docs); the second engine (ENGINE=podman);
# fuzzing, valgrind and figures (make fuzz, make valgrind, make bench);
# event loops (cqueues, luv), the ssh transport and recordings. Debian has
# no Lua 5.4 build of lua-posix: the specs' raw OS calls are in the
# test-only module dockerpty_test (spec/support/testcore.c), not shipped.
PACKAGES="lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted luarocks lua-check
docker.io busybox-static tmux openssl curl cppcheck pkg-config gcc make
lua-ldoc lua-discount
podman
clang libclang-rt-14-dev valgrind time
lua-cqueues lua-luv openssh-server openssh-client asciinema"

# Without dpkg there is nothing to install with: check the commands instead.
if ! command -v dpkg-query >/dev/null 2>&1; then
    missing=""
    for c in lua5.4 busted luarocks luacheck docker dockerd busybox tmux openssl curl cppcheck pkg-config gcc make; do
        command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
    done
    [ -z "$missing" ] && exit 0
    echo "deps.sh: not a Debian system and these commands are missing:$missing" >&2
    exit 1
fi

# One query for every package; names dpkg does not know are simply absent.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PACKAGES 2>/dev/null |
            awk '$1 == "ii" { sub(/:.*/, "", $2); printf " %s", $2 }') || true

missing=""
for p in $PACKAGES; do
    case "$installed " in
        *" $p "*) continue ;;
    esac
    # docker.io conflicts with Docker's own docker-ce packages: a machine that
    # already has a working docker CLI and dockerd from elsewhere keeps them.
    if [ "$p" = docker.io ] && command -v docker >/dev/null 2>&1 &&
       PATH="$PATH:/usr/sbin:/sbin" command -v dockerd >/dev/null 2>&1; then
        continue
    fi
    missing="$missing $p"
done
missing=${missing# }
[ -z "$missing" ] && exit 0

install_line="apt-get install -y --no-install-recommends $missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages: $missing" >&2
    echo "deps.sh: run as root: $install_line" >&2
    exit 1
fi

echo "deps.sh: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    # shellcheck disable=SC2086
    apt-get update -q </dev/null &&
        apt-get install -y -q --no-install-recommends $missing </dev/null
}
if ! apt_install; then
    echo "deps.sh: apt-get failed; retrying once in 10 s" >&2
    sleep 10
    if ! apt_install; then
        echo "deps.sh: could not install: $missing" >&2
        exit 1
    fi
fi

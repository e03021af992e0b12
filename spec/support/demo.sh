#!/bin/sh
# spec/support/demo.sh: what `make demo` runs inside `spec/support/engine run`:
# a shell in a fresh container, through bin/dockerpty run --rm -it. The
# engine gives DOCKER_HOST (a reachable daemon, or the rig's private one,
# which it stops afterwards) and DOCKERPTY_TEST_IMAGE; `make demo` gives
# LUA_PATH/LUA_CPATH for the freshly built module. Exits with the shell's
# status.
set -eu

cd "$(dirname "$0")/../.."
: "${LUA_PATH:=lua/?.lua;lua/?/init.lua;;}"
: "${LUA_CPATH:=${DP_BUILD:-build}/?.so;;}"
export LUA_PATH LUA_CPATH
IMAGE=${DOCKERPTY_TEST_IMAGE:-dockerpty-test/busybox}

echo "demo: /bin/sh in a fresh $IMAGE container at ${DOCKER_HOST:-the default daemon}" >&2
echo "demo: type exit (or Ctrl-D) to leave; the container is removed" >&2
exec lua5.4 bin/dockerpty run --rm -it --network none "$IMAGE" /bin/sh

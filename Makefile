# dockerpty: build the C core into build/dockerpty/core.so, run the specs,
# lint. Every path is a ?= variable; Lua and libcurl flags come from
# pkg-config. See README.md.

LUA          ?= lua5.4
PKG_CONFIG   ?= pkg-config
LUA_PC       ?= lua5.4
BUSTED       ?= $(shell command -v busted 2>/dev/null || echo /usr/bin/busted)
LUACHECK     ?= luacheck
CPPCHECK     ?= cppcheck
LUAROCKS     ?= luarocks
CC           ?= cc

LUA_INCDIR   ?= $(shell $(PKG_CONFIG) --variable=includedir $(LUA_PC) 2>/dev/null)/lua5.4
LUA_CFLAGS   ?= $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null)
CURL_CFLAGS  ?= $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS    ?= $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)

CFLAGS       ?= -O2 -g
LIBFLAG      ?= -shared
DP_CFLAGS     = -std=gnu11 -fPIC -fvisibility=hidden -Wall -Wextra -Werror \
                -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
LDLIBS        = -ldl

# SANITIZE=1: ASan and UBSan. lua5.4 is not instrumented, so the runtimes are
# preloaded; the core then removes LD_PRELOAD from its environment
# (DP_SANITIZE_ENV), so that the tools specs start (curl, pgrep, tmux) run
# without it (some hang under libasan), while every lua5.4 they start finds
# it again through the shim $(BUILD)/sanbin/lua5.4, first in PATH.
SANITIZE     ?=
ifeq ($(SANITIZE),1)
SAN_FLAGS     = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -DDP_SANITIZE_ENV
SAN_PRELOAD   = $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)
SAN_BIN       = $(abspath $(BUILD))/sanbin
SAN_ENV       = LD_PRELOAD="$(SAN_PRELOAD)" DP_SAN_PRELOAD="$(SAN_PRELOAD)" PATH="$(SAN_BIN):$$PATH" \
                ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SAN_SHIM      = $(SAN_BIN)/lua5.4
endif

BUILD        ?= build
SO            = $(BUILD)/dockerpty/core.so
# Keep in sync with rockspec/dockerpty-scm-1.rockspec (make check-sources).
SRCS          = src/core.c src/util.c src/term.c src/demux.c src/escape.c \
                src/httphead.c src/httpcodec.c src/curlapi.c src/conn.c src/http.c src/fdio.c src/pump.c \
                src/sigstate.c src/loop.c src/cast.c src/vtmodes.c \
                src/ssh.c src/sha256.c src/transport.c src/tr_unix.c src/tr_curl.c
HDRS          = $(wildcard src/*.h)

PREFIX       ?= /usr/local
ROCKTREE     ?= $(PREFIX)

LUA_PATH_DEV  = lua/?.lua;lua/?/init.lua;;
LUA_CPATH_DEV = $(BUILD)/?.so;;
# TRANSPORT=libcurl: clients and specs reach a unix socket through libcurl
# too (DOCKERPTY_TRANSPORT), instead of the plain socket transport.
TRANSPORT    ?=
TEST_ENV      = LUA_PATH='$(LUA_PATH_DEV)' LUA_CPATH='$(LUA_CPATH_DEV)' DP_BUILD='$(BUILD)' \
                $(if $(TRANSPORT),DOCKERPTY_TRANSPORT='$(TRANSPORT)')
BUSTED_RUN    = $(TEST_ENV) $(SAN_ENV) $(LUA) $(BUSTED)
# Extra busted options, e.g. make test BUSTED_ARGS='--tags=docker'
BUSTED_ARGS  ?=
ENGINE       ?= docker

.PHONY: all test test-unit lint clean install env deps check-sources rock-check

all: $(SO) $(SAN_SHIM)

$(SAN_BIN)/lua5.4:
	@mkdir -p $(SAN_BIN)
	@printf '#!/bin/sh\n# lua5.4 with the sanitizer runtimes preloaded (make SANITIZE=1)\nLD_PRELOAD="$$DP_SAN_PRELOAD" exec %s "$$@"\n' \
	  "$$(command -v $(LUA))" > $@
	@chmod +x $@

# Rebuild when the flags change (SANITIZE=1 and back).
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)/dockerpty
	@echo '$(CC) $(CFLAGS) $(SAN_FLAGS) $(DP_CFLAGS) $(LUA_CFLAGS) $(CURL_CFLAGS)' | cmp -s - $@ || \
	  echo '$(CC) $(CFLAGS) $(SAN_FLAGS) $(DP_CFLAGS) $(LUA_CFLAGS) $(CURL_CFLAGS)' > $@

$(SO): $(SRCS) $(HDRS) $(BUILD)/.flags
	@mkdir -p $(BUILD)/dockerpty
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(DP_CFLAGS) $(LUA_CFLAGS) $(CURL_CFLAGS) \
	  $(LIBFLAG) -o $@ $(SRCS) $(LDFLAGS) $(LDLIBS)

FORCE:

# The specs' own module (spec/support/testcore.c): never installed.
TESTSO        = $(BUILD)/dockerpty_test.so
# It links the core's head parser (parse_head) and finds libcurl by its soname.
$(TESTSO): spec/support/testcore.c src/httphead.c src/httphead.h src/curlapi.h $(BUILD)/.flags
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(DP_CFLAGS) -Isrc $(LUA_CFLAGS) $(CURL_CFLAGS) $(LIBFLAG) -o $@ \
	  spec/support/testcore.c src/httphead.c $(LDFLAGS) $(LDLIBS)

# Install what is missing (Debian packages), as root; else say what to run.
deps:
	@sh spec/support/deps.sh

# Every spec: unit, #docker (a real daemon from spec/support/engine) and
# #tty (terminals from tmux).
# Under SANITIZE=1 the specs that measure memory (RSS, which ASan inflates)
# are left to the plain run: they are tagged #nosanitize. Podman has no
# swarm: ENGINE=podman leaves out the #swarm specs.
TEST_EXCLUDE ?= long,todo$(if $(filter 1,$(SANITIZE)),$(comma)nosanitize)$(if $(filter podman,$(ENGINE)),$(comma)swarm)
comma := ,

test: deps all $(TESTSO)
	@ENGINE=$(ENGINE) sh spec/support/engine run -- $(BUSTED_RUN) --run=integration \
	  --exclude-tags=$(TEST_EXCLUDE) $(BUSTED_ARGS)

# Specs that need neither a daemon nor a terminal.
test-unit: all $(TESTSO)
	$(BUSTED_RUN) $(BUSTED_ARGS)

lint: check-sources
	$(LUACHECK) lua spec $(wildcard bin/* examples bench) rockspec .busted .luacheckrc
	$(CPPCHECK) --quiet --error-exitcode=1 --enable=warning,portability \
	  --std=c11 --suppress=missingIncludeSystem --suppress=toomanyconfigs \
	  $(LUA_CFLAGS) $(CURL_CFLAGS) src
	$(MAKE) --no-print-directory -B $(SO) CFLAGS='-O2 -g'

check-sources:
	@$(LUA) spec/support/check_sources.lua $(SRCS)

# The rockspec needs no variable (its external_dependencies comment says
# why: the compiler finds curl.h itself, multiarch too); LIBCURL_INCDIR or
# LIBCURL_DIR given to make pass through, to name another place.
ROCK_VARS     = $(foreach v,LIBCURL_INCDIR LIBCURL_DIR,$(if $($(v)),$(v)=$($(v))))

BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions

install:
	$(LUAROCKS) --lua-version 5.4 make --deps-mode=none --tree $(ROCKTREE) \
	  rockspec/dockerpty-scm-1.rockspec $(ROCK_VARS)
	install -D -m 644 completion/dockerpty.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/dockerpty

env:
	@echo "export LUA_PATH='$(LUA_PATH_DEV)'"
	@echo "export LUA_CPATH='$(LUA_CPATH_DEV)'"

clean:
	rm -rf $(BUILD) luarocks *.rock

# Targets of their own concern (demo, docs, bench, fuzz, valgrind...) live in mk/*.mk.
-include $(sort $(wildcard mk/*.mk))

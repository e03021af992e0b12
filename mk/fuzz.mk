# mk/fuzz.mk: libFuzzer targets under spec/fuzz (issue 7, F1-F5; F6, the
# terminal modes of issue 14); spec/fuzz/README.md describes them.
# Needs clang and libclang-rt-14-dev.
#
#   make fuzz                   each target for FUZZ_SECONDS (60) under ASan+UBSan
#   make fuzz FUZZ_SECONDS=300 FUZZ_TARGETS='demux pump'
#   make fuzz-build             only build $(BUILD)/fuzz/fuzz_<target>
#   make fuzz-seeds             rewrite spec/fuzz/corpus from spec/fuzz/seeds.lua
#
# Each run works on a copy of spec/fuzz/corpus/<target> in
# $(BUILD)/fuzz/work/<target>: the committed corpus never grows by itself.
# Crash inputs land in $(BUILD)/fuzz/artifacts/. See spec/fuzz/README.md.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  ?= demux httphead escape keys pump cast vtmodes httpcodec
FUZZ_DIR       = $(BUILD)/fuzz
FUZZ_SAN      ?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
FUZZ_CFLAGS   ?= -g -O1
FUZZ_WARN      = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter
FUZZ_LUA_LIBS ?= $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null)
# Memory limits: a demuxer that buffered a frame would pass 64 MiB at once;
# inputs up to 64 KiB.
FUZZ_ARGS     ?= -rss_limit_mb=256 -malloc_limit_mb=64 -max_len=65536 -timeout=10
# A smaller ASan quarantine keeps the pump target (whole core, Lua, libcurl)
# under the 256 MB RSS limit.
FUZZ_ENV      ?= ASAN_OPTIONS=quarantine_size_mb=32:abort_on_error=0 \
                 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The C files each target compiles (demux.c, escape.c and httphead.c carry
# their Lua classes, hence util.c and liblua).
FUZZ_SRCS_demux    = src/demux.c src/util.c
FUZZ_SRCS_httphead = src/httphead.c src/util.c
FUZZ_SRCS_httpcodec = src/httpcodec.c src/httphead.c src/util.c
FUZZ_SRCS_escape   = src/escape.c src/util.c
FUZZ_SRCS_keys     = src/escape.c src/util.c
FUZZ_SRCS_cast     = src/cast.c
FUZZ_SRCS_vtmodes  = src/vtmodes.c src/util.c

.PHONY: fuzz fuzz-build fuzz-seeds

fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

$(FUZZ_DIR)/fuzz_demux $(FUZZ_DIR)/fuzz_httphead $(FUZZ_DIR)/fuzz_escape $(FUZZ_DIR)/fuzz_keys \
  $(FUZZ_DIR)/fuzz_cast $(FUZZ_DIR)/fuzz_vtmodes $(FUZZ_DIR)/fuzz_httpcodec: \
  $(FUZZ_DIR)/fuzz_%: spec/fuzz/fuzz_%.c $(SRCS) $(HDRS)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) $(FUZZ_WARN) -Isrc $(LUA_CFLAGS) \
	  -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LUA_LIBS)

# F5 links the whole core; the core's read()/write() and recv()/send() (the
# pump's calls on a socket fd) go through the fault injection of
# fuzz_pump.c (--wrap).
$(FUZZ_DIR)/fuzz_pump: spec/fuzz/fuzz_pump.c spec/fuzz/pump_driver.lua spec/support/testcore.c $(SRCS) $(HDRS)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) $(FUZZ_WARN) -Isrc $(LUA_CFLAGS) $(CURL_CFLAGS) \
	  -DDP_FUZZ_DIR='"$(CURDIR)/spec/fuzz"' -o $@ $< spec/support/testcore.c $(SRCS) \
	  $(FUZZ_LUA_LIBS) $(LDLIBS) -Wl,--wrap=read -Wl,--wrap=write \
	  -Wl,--wrap=recv -Wl,--wrap=send

fuzz: fuzz-build
	@$(FUZZ_ENV) sh spec/fuzz/run.sh '$(FUZZ_DIR)' '$(FUZZ_SECONDS)' '$(FUZZ_ARGS)' $(FUZZ_TARGETS)

fuzz-seeds:
	$(LUA) spec/fuzz/seeds.lua spec/fuzz/corpus

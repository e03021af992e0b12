# mk/bench.mk: the side-by-side benchmark against the docker CLI (issue 6).
# See bench/README.md.
#
#   make bench                               full run (both regimes), report on stdout
#   make bench BENCH_OUT=bench/RESULTS.md    ... and into a file
#   make bench BENCH_QUICK=1                 smoke run: small sizes, 3 repetitions
#   make bench BENCH_REGIMES=quiet           only the quiet regime (or loaded)
#   make bench BENCH_FIGURES=1,4 BENCH_CLIENTS=lua,docker BENCH_REPS=3

BENCH_PROBE   = $(BUILD)/bench/echo_probe
BENCH_CEILING = $(BUILD)/bench/ceiling
BENCH_VARS    = BENCH_QUICK BENCH_REPS BENCH_FIGURES BENCH_CLIENTS BENCH_OUT BENCH_REGIMES \
                BENCH_LOADED_FIGURES BENCH_VARIANTS BENCH_OUT_MIB BENCH_TTY_MIB BENCH_INPUT_MIB \
                BENCH_SSH_MIB
BENCH_ENV     = $(foreach v,$(BENCH_VARS),$(if $($(v)),$(v)='$($(v))')) \
                BENCH_PROBE='$(BENCH_PROBE)' BENCH_CEILING='$(BENCH_CEILING)' LUA='$(LUA)'
BENCH_CCFLAGS = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes

.PHONY: bench

$(BENCH_PROBE): bench/echo_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BENCH_CCFLAGS) -o $@ bench/echo_probe.c -lutil

# the ceiling of the daemon path (figure 1): a minimal Engine API client
$(BENCH_CEILING): bench/ceiling.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BENCH_CCFLAGS) -o $@ bench/ceiling.c

bench: deps all $(BENCH_PROBE) $(BENCH_CEILING)
	@sh spec/support/engine run -- $(TEST_ENV) $(BENCH_ENV) $(LUA) bench/bench.lua

# mk/bench.mk: the side-by-side benchmark against the docker CLI (issue 6).
# See bench/README.md.
#
#   make bench                               full run, report on stdout
#   make bench BENCH_OUT=bench/RESULTS.md    ... and into a file
#   make bench BENCH_QUICK=1                 smoke run: small sizes, 2 repetitions
#   make bench BENCH_FIGURES=1,4 BENCH_CLIENTS=lua,docker BENCH_REPS=3

BENCH_PROBE   = $(BUILD)/bench/echo_probe
BENCH_VARS    = BENCH_QUICK BENCH_REPS BENCH_FIGURES BENCH_CLIENTS BENCH_OUT BENCH_VARIANTS
BENCH_ENV     = $(foreach v,$(BENCH_VARS),$(if $($(v)),$(v)='$($(v))')) \
                BENCH_PROBE='$(BENCH_PROBE)' LUA='$(LUA)'

.PHONY: bench

$(BENCH_PROBE): bench/echo_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	  -Wmissing-prototypes -o $@ bench/echo_probe.c -lutil

bench: deps all $(BENCH_PROBE)
	@sh spec/support/engine run -- $(TEST_ENV) $(BENCH_ENV) $(LUA) bench/bench.lua

# mk/valgrind.mk: `make valgrind` runs the specs that need neither a daemon
# nor a terminal (busted's default profile) under valgrind memcheck, as
# lua-cjson's CI does.
# Any memcheck error or definite leak fails the run. The core is built
# without sanitizers (valgrind and ASan do not mix); child processes the
# specs start (io.popen) are not traced.
#
# VALGRIND_EXCLUDE repeats the default profile's tags (the option replaces
# them). Valgrind slows the process 20-50 times, so specs that assert wall-clock
# timings (a fake daemon that sleeps 200 ms, RSS over 1,000 cycles) can
# fail under it for no memory reason: tag those #novalgrind.
#
#   make valgrind
#   make valgrind BUSTED_ARGS=spec/demux_spec.lua

VALGRIND       ?= valgrind
VALGRIND_SUPP  ?= spec/support/valgrind.supp
VALGRIND_EXCLUDE ?= docker,tty,long,todo,novalgrind
VALGRIND_FLAGS ?= --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
                  --show-leak-kinds=definite --num-callers=30 --keep-debuginfo=yes --suppressions=$(VALGRIND_SUPP)

.PHONY: valgrind

valgrind: all $(TESTSO)
	@if [ -n "$(SAN_FLAGS)" ]; then echo "make valgrind: build without SANITIZE=1" >&2; exit 1; fi
	$(TEST_ENV) $(VALGRIND) $(VALGRIND_FLAGS) $(LUA) $(BUSTED) \
	  --exclude-tags=$(VALGRIND_EXCLUDE) $(BUSTED_ARGS)

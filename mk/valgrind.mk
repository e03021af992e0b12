# mk/valgrind.mk: `make valgrind` runs the specs that need neither a daemon
# nor a terminal (busted's default profile) under valgrind memcheck, as
# lua-cjson's CI does (RELIABILITY.md "Fuzzing and sanitizers", item 3).
# Any memcheck error or definite leak fails the run. The core is built
# without sanitizers (valgrind and ASan do not mix); child processes the
# specs start (io.popen) are not traced.
#
#   make valgrind
#   make valgrind BUSTED_ARGS=spec/demux_spec.lua

VALGRIND       ?= valgrind
VALGRIND_SUPP  ?= spec/support/valgrind.supp
VALGRIND_FLAGS ?= --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
                  --show-leak-kinds=definite --num-callers=30 --keep-debuginfo=yes --suppressions=$(VALGRIND_SUPP)

.PHONY: valgrind

valgrind: all
	@if [ -n "$(SAN_FLAGS)" ]; then echo "make valgrind: build without SANITIZE=1" >&2; exit 1; fi
	$(TEST_ENV) $(VALGRIND) $(VALGRIND_FLAGS) $(LUA) $(BUSTED) $(BUSTED_ARGS)

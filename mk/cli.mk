# mk/cli.mk: `make demo`, a shell in a fresh container through bin/dockerpty.
# deps installs what is missing (as root); the engine reuses a reachable
# daemon or starts the rig's private one, imports the busybox test image if
# it is absent, and stops what it started when the shell exits.

.PHONY: demo

demo: deps all
	@sh spec/support/engine run -- $(TEST_ENV) sh spec/support/demo.sh

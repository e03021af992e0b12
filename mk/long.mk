# mk/long.mk: the slow specs (#long), e.g. dockerd killed and restarted
# during a session (spec/reliability_spec.lua). Excluded from `make test`;
# CI runs `make test-long` too. Like `make test`, through spec/support/engine,
# which gives the specs the rig's private dockerd when no daemon is reused.
.PHONY: test-long

test-long: deps all $(TESTSO)
	@sh spec/support/engine run -- $(BUSTED_RUN) --run=long $(BUSTED_ARGS)

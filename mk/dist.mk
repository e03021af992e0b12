# mk/dist.mk: `make dist`, a source rock of the committed tree (HEAD) for
# the release rockspec of the current version, packed by `luarocks pack`
# offline: the rock holds rockspec/dockerpty-VERSION-1.rockspec as it is
# (its source is the git tag) and the tree it names.
#
# luarocks pack fetches the rockspec's source; with no network, it is given
# a copy of the rockspec whose source is a local git repository holding
# HEAD (named dockerpty.git, as the real one, so that the packed directory
# is the one the rockspec expects), and the copy is then swapped for the
# real rockspec in the rock. Install it with
#   luarocks --lua-version 5.4 install build/dist/dockerpty-VERSION-1.src.rock --deps-mode=none

DIST_VERSION  ?= $(shell sed -n 's/^\#define DP_VERSION "\(.*\)"/\1/p' src/dockerpty.h)
DIST_DIR      ?= $(BUILD)/dist
DIST_NAME      = dockerpty-$(DIST_VERSION)-1
DIST_ROCKSPEC  = rockspec/$(DIST_NAME).rockspec
DIST_STAGE     = $(abspath $(DIST_DIR))/stage

.PHONY: dist

dist:
	@test -f $(DIST_ROCKSPEC) || { echo "dist: no $(DIST_ROCKSPEC) for version $(DIST_VERSION)" >&2; exit 1; }
	rm -rf $(DIST_STAGE) $(DIST_DIR)/$(DIST_NAME).src.rock
	mkdir -p $(DIST_STAGE)/spec $(DIST_STAGE)/real
	git init -q --bare $(DIST_STAGE)/dockerpty.git
	git push -q $(DIST_STAGE)/dockerpty.git HEAD:refs/heads/dist
	sed -e 's|^  url = .*|  url = "git+file://$(DIST_STAGE)/dockerpty.git",|' \
	  -e 's|^  tag = .*|  branch = "dist",|' $(DIST_ROCKSPEC) > $(DIST_STAGE)/spec/$(DIST_NAME).rockspec
	cd $(DIST_DIR) && $(LUAROCKS) --lua-version 5.4 pack $(DIST_STAGE)/spec/$(DIST_NAME).rockspec
	cp $(DIST_ROCKSPEC) $(DIST_STAGE)/real/
	cd $(DIST_STAGE)/real && zip -q $(abspath $(DIST_DIR))/$(DIST_NAME).src.rock $(DIST_NAME).rockspec
	rm -rf $(DIST_STAGE)
	@echo "dist: $(DIST_DIR)/$(DIST_NAME).src.rock"

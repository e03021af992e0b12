# make docs: the API reference from the LDoc comments (Debian's lua-ldoc,
# with lua-discount for markdown), written to build/docs/ (docs/ is hand-written: design.md, protocol.md). Any
# LDoc warning fails the target.
LDOC ?= ldoc

.PHONY: docs
docs:
	@out=$$($(LDOC) --fatalwarnings . 2>&1); status=$$?; echo "$$out"; \
	  if [ $$status -ne 0 ] || echo "$$out" | grep -v -e '^reading configuration' -e '^output written' | grep -q .; then \
	    echo "make docs: LDoc warned (see above)" >&2; exit 1; fi

local package_name = "dockerpty"
local package_version = "scm"
local rockspec_revision = "1"

rockspec_format = "3.0"
package = package_name
version = package_version .. "-" .. rockspec_revision

-- source.url is a placeholder (the project has no public repository yet):
-- `luarocks make` builds from the working tree and never fetches it; see
-- the release rockspec for how a release is cut.
source = {
  url = "git+https://example.invalid/dockerpty.git",
}

description = {
  summary = "Attach your terminal to a Docker container's pseudo-tty, from Lua",
  detailed = [[
    dockerpty does what `docker run -it`, `docker exec -it` and `docker attach`
    do, as a library: a C core (transport to the daemon: unix socket, and
    libcurl, loaded at run time, for TCP and TLS; termios, stream demuxer,
    pumps and a poll loop) under a Lua API modelled on Python's dockerpty.
  ]],
  license = "MIT",
}

dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson",
}

external_dependencies = {
  -- The header only: the core loads libcurl.so.4 with dlopen when a TCP or
  -- TLS endpoint needs it. No file is named for LuaRocks to look for: it
  -- searches PREFIX/include only, while Debian and Ubuntu keep curl.h in
  -- the multiarch /usr/include/<triplet>, which the compiler searches
  -- itself. LIBCURL_DIR=/prefix or LIBCURL_INCDIR=/dir names another place.
  LIBCURL = {},
}

-- `luarocks test`: busted, through `make test-unit` (which builds the core
-- first). The busted test type would install busted as a rock before it
-- runs, which an offline machine with Debian's lua-busted cannot do; so
-- busted (lua-busted) is a system dependency, as lua5.4 is (`make deps`).
test = {
  type = "command",
  command = "make test-unit",
}

build = {
  type = "builtin",
  modules = {
    ["dockerpty.core"] = {
      sources = {
        "src/core.c", "src/util.c", "src/term.c", "src/demux.c", "src/escape.c",
        "src/httphead.c", "src/httpcodec.c", "src/curlapi.c", "src/conn.c", "src/http.c", "src/fdio.c",
        "src/pump.c", "src/sigstate.c", "src/loop.c", "src/cast.c", "src/vtmodes.c",
        "src/ssh.c", "src/sha256.c", "src/transport.c", "src/tr_unix.c", "src/tr_curl.c",
      },
      defines = { "_GNU_SOURCE" },
      incdirs = { "$(LIBCURL_INCDIR)" },
      libraries = { "dl" },
    },
    ["dockerpty"] = "lua/dockerpty/init.lua",
    ["dockerpty.blocking"] = "lua/dockerpty/blocking.lua",
    ["dockerpty.cli"] = "lua/dockerpty/cli.lua",
    ["dockerpty.client"] = "lua/dockerpty/client.lua",
    ["dockerpty.config"] = "lua/dockerpty/config.lua",
    ["dockerpty.context"] = "lua/dockerpty/context.lua",
    ["dockerpty.errors"] = "lua/dockerpty/errors.lua",
    ["dockerpty.expect"] = "lua/dockerpty/expect.lua",
    ["dockerpty.io"] = "lua/dockerpty/io.lua",
    ["dockerpty.operation"] = "lua/dockerpty/operation.lua",
    ["dockerpty.prefix"] = "lua/dockerpty/prefix.lua",
    ["dockerpty.pty"] = "lua/dockerpty/pty.lua",
    ["dockerpty.record"] = "lua/dockerpty/record.lua",
    ["dockerpty.request"] = "lua/dockerpty/request.lua",
    ["dockerpty.resize"] = "lua/dockerpty/resize.lua",
    ["dockerpty.service"] = "lua/dockerpty/service.lua",
    ["dockerpty.service_cli"] = "lua/dockerpty/service_cli.lua",
    ["dockerpty.session"] = "lua/dockerpty/session.lua",
    ["dockerpty.tty"] = "lua/dockerpty/tty.lua",
    ["dockerpty.util"] = "lua/dockerpty/util.lua",
  },
  install = {
    bin = { dockerpty = "bin/dockerpty" },
  },
}

local core = require("dockerpty.core")

describe("dockerpty.core", function()
  it("loads and has a version", function()
    assert.is_string(core._VERSION)
    assert.matches("^%d+%.%d+%.%d+$", core._VERSION)
    assert.is_nil(core._CURL_VERSION)
    -- libcurl is loaded on demand (TCP and TLS endpoints), here by asking
    assert.matches("^libcurl/%d", core.curl_version())
    assert.is_true(core.curl_loaded())
  end)

  it("turns Lua files and integers into fds", function()
    assert.equal(0, core.fileno(io.stdin))
    assert.equal(2, core.fileno(io.stderr))
    assert.equal(7, core.fileno(7))
    assert.has_error(function() core.fileno("x") end,
      "bad argument #1 to 'fileno' (file or fd expected, got string)")
  end)

  it("sets and restores O_NONBLOCK", function()
    local r, w = core._pipe()
    finally(function() core._close(r); core._close(w) end)
    assert.is_false(core.nonblock(r))
    assert.is_false(core.nonblock(r, true))
    assert.is_true(core.nonblock(r))
    assert.is_true(core.nonblock(r, false))
    assert.is_false(core.nonblock(r))
  end)

  it("returns nil, message, NAME on OS failures (no errno after them)", function()
    assert.same({ n = 3, nil, "fcntl: Bad file descriptor", "EBADF" }, table.pack(core.nonblock(987654)))
  end)
end)

-- spec/httpcodec_spec.lua: the HTTP/1.1 codec of the core (src/httpcodec.c)
-- through its Lua entries: core.http_request (the request encoder) and
-- core.http_decoder (the incremental response decoder used by the session
-- engine's requests, and in C by Http:request's plain transport).
local core = require("dockerpty.core")

-- Feed s in pieces of n bytes (n = nil: whole); the decoder's outcome:
-- { "done", body, rest } / { "more", body } / { "error", msg, name, body }.
local function decode(s, n, opts)
  local d = core.http_decoder(opts)
  local body = {}
  local i = 1
  repeat
    local piece = s:sub(i, n and i + n - 1 or #s)
    i = i + #piece
    local done, b, rest, partial = d:feed(piece)
    if done == nil then
      body[#body + 1] = partial
      return { "error", b, rest, table.concat(body) }, d
    end
    body[#body + 1] = b
    if done then return { "done", table.concat(body), rest .. s:sub(i) }, d end
  until i > #s
  return { "more", table.concat(body) }, d
end

-- The outcome fed whole and split at every byte boundary (two pieces),
-- and one byte at a time: all the same.
local function same_split(s, opts)
  local whole = decode(s, nil, opts)
  for cut = 1, #s - 1 do
    local d = core.http_decoder(opts)
    local r1 = { d:feed(s:sub(1, cut)) }
    local r
    if r1[1] == nil then
      r = { "error", r1[2], r1[3], r1[4] }
    elseif r1[1] then
      r = { "done", r1[2], r1[3] .. s:sub(cut + 1) }
    else
      local r2 = { d:feed(s:sub(cut + 1)) }
      if r2[1] == nil then
        r = { "error", r2[2], r2[3], r1[2] .. r2[4] }
      else
        r = { r2[1] and "done" or "more", r1[2] .. r2[2], r2[3] }
      end
    end
    if whole[1] == "error" then
      assert.same({ whole[1], whole[2], whole[3] }, { r[1], r[2], r[3] }, "split at " .. cut)
    else
      assert.same(whole, r, "split at " .. cut)
    end
  end
  local bytes = decode(s, 1, opts)
  if whole[1] ~= "error" then assert.same(whole, bytes) end
  return whole
end

local function chunked(body)
  return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. body
end

describe("core.http_request", function()
  it("writes the request line, the fields, Host and Content-Length, the body", function()
    assert.equal("GET /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n", core.http_request("GET", "/_ping"))
    assert.equal("POST /x HTTP/1.1\r\nHost: api.moby.localhost\r\nContent-Length: 0\r\n\r\n",
      core.http_request("POST", "/x"))
    assert.equal("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
      core.http_request("PUT", "/x", { Host = "h", ["content-length"] = "99", ["X-Empty"] = "" }, "abc"))
  end)

  it("rejects a bad method, path or header as a bad argument", function()
    assert.has_error(function() core.http_request("G T", "/") end,
      "bad argument #1 to 'http_request' (invalid method)")
    assert.has_error(function() core.http_request("GET", "/a b") end,
      "bad argument #2 to 'http_request' (invalid path)")
    assert.has_error(function() core.http_request("GET", "x") end,
      "bad argument #2 to 'http_request' (invalid path)")
    assert.has_error(function() core.http_request("GET", "/", { ["X:Y"] = "v" }) end,
      "bad argument #3 to 'http_request' (invalid header name 'X:Y')")
    assert.has_error(function() core.http_request("GET", "/", { X = "a\r\nInjected: 1" }) end,
      "bad argument #3 to 'http_request' (invalid value for header 'X')")
    assert.has_error(function() core.http_request("GET", "/", { X = 1 }) end,
      "bad argument #3 to 'http_request' (header names and values must be strings)")
  end)
end)

describe("core.http_decoder", function()
  it("frames a body by Content-Length and leaves what follows", function()
    local s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhelloHTTP/1.1"
    assert.same({ "done", "hello", "HTTP/1.1" }, same_split(s))
    local _, d = decode(s)
    local status, headers, reason = d:head()
    assert.same({ 200, "5", "OK" }, { status, headers["content-length"], reason })
    assert.is_true(d:keepalive())
    assert.is_true(d:done())
  end)

  it("decodes chunk extensions and drops trailer fields", function()
    local s = chunked("5;name=\"x\"\r\nhello\r\nA ; e=1\r\n, chunked!\r\n0\r\nX-Trailer: 1\r\nX-B: 2\r\n\r\nNEXT")
    assert.same({ "done", "hello, chunked!", "NEXT" }, same_split(s))
  end)

  it("takes chunked as the last coding, in any case; bare LF line ends", function()
    assert.same({ "done", "abc", "" }, same_split("HTTP/1.1 200 OK\nTransfer-Encoding: gzip, Chunked\n\n" ..
      "3\nabc\n0\n\n"))
  end)

  it("prefers chunked to a Content-Length (RFC 9112 6.3)", function()
    assert.same({ "done", "abcd", "" }, same_split("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" ..
      "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"))
  end)

  it("rejects bad chunk sizes and framing", function()
    for _, case in ipairs({
      { "zz\r\nabc\r\n", "malformed chunk size" },
      { ";x\r\n", "malformed chunk size" },
      { "\r\n", "malformed chunk size" },
      { "3x\r\nabc\r\n", "malformed chunk size" },
      { "3 \r\r\nabc", "malformed chunk size" },
      { "3;a\1b\r\n", "malformed chunk extension" },
      { "3\r\nabcX\r\n", "malformed chunked coding" },
      { "0\r\nX: \1\r\n\r\n", "malformed trailer section" },
      { "0\r\n\rX", "malformed trailer section" },
      { ("0"):rep(5000) .. "1\r\n", "chunk-size line too long" },
    }) do
      local r = same_split(chunked(case[1]))
      assert.same({ "error", case[2], "protocol" }, { r[1], r[2], r[3] }, case[1])
    end
  end)

  it("keeps the body decoded before a fault as the fourth value", function()
    assert.same({ nil, "malformed chunk size", "protocol", "abc" },
      { core.http_decoder():feed(chunked("3\r\nabc\r\nq\r\n")) })
  end)

  it("bounds a body by its limit: Content-Length, chunk sizes, up to EOF", function()
    local big = "HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n"
    assert.same({ "error", "response body too large", "protocol" }, { table.unpack(same_split(big, { max = 64 }), 1, 3) })
    assert.same({ "done", ("x"):rep(64), "" },
      same_split("HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n" .. ("x"):rep(64), { max = 64 }))
    local r = same_split(chunked("20\r\n" .. ("x"):rep(32) .. "\r\n21\r\n"), { max = 64 })
    assert.same({ "error", "response body too large", "protocol" }, { r[1], r[2], r[3] })
    r = same_split(chunked("ffffffffffffffffffffffff\r\n"))
    assert.same({ "error", "response body too large", "protocol" }, { r[1], r[2], r[3] })
    local d = core.http_decoder{ max = 64 }
    assert.is_false((d:feed("HTTP/1.0 200 OK\r\n\r\n" .. ("y"):rep(60))))
    assert.same({ nil, "response body too large", "protocol", "" }, { d:feed(("y"):rep(5)) })
    assert.has_error(function() core.http_decoder{ max = 0 } end,
      "bad argument #1 to 'http_decoder' (field 'max' out of range)")
  end)

  it("rejects a bad or conflicting Content-Length", function()
    for _, v in ipairs({ "1x", "", "-1", "1234567890123456789", "2\r\nContent-Length: 3" }) do
      local r = same_split("HTTP/1.1 200 OK\r\nContent-Length: " .. v .. "\r\n\r\nabc")
      assert.same({ "error", "malformed Content-Length", "protocol" }, { r[1], r[2], r[3] }, v)
    end
    assert.same({ "done", "ab", "c" }, same_split("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" ..
      "Content-Length: 2\r\n\r\nabc"))
  end)

  it("reads a body without a length up to EOF; then the connection is not kept", function()
    local r, d = decode("HTTP/1.0 200 OK\r\n\r\nup to ", 3)
    assert.same({ "more", "up to " }, r)
    assert.same({ false, "the end" }, { d:feed("the end") })
    assert.is_true(d:eof())
    assert.is_true(d:done())
    assert.is_false(d:keepalive())
  end)

  it("tells an empty reply from a cut one at EOF", function()
    assert.same({ nil, "empty reply from server", "closed" }, { core.http_decoder():eof() })
    local d = core.http_decoder()
    d:feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
    assert.same({ nil, "connection closed before the response was complete", "closed" }, { d:eof() })
    d = core.http_decoder()
    d:feed("HTTP/1.1 20")
    assert.same({ nil, "connection closed before the response was complete", "closed" }, { d:eof() })
  end)

  it("has no body for HEAD, 1xx, 204 and 304; skips 100 Continue", function()
    local h = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    assert.same({ "done", "", "" }, same_split(h, { head = true }))
    assert.same({ "done", "", "rest" }, same_split("HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nrest"))
    assert.same({ "done", "", "" }, same_split("HTTP/1.1 304 Not Modified\r\n\r\n"))
    local r, d = decode("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
    assert.same({ "done", "{}", "" }, r)
    assert.equal(201, (d:head()))
    assert.same({ "done", "", "\1\0\0\0" }, same_split("HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n\1\0\0\0"))
  end)

  it("rejects a malformed head and one too long", function()
    assert.same({ nil, "malformed response head", "protocol", "" }, { core.http_decoder():feed("SSH-2.0\r\n") })
    local long = "HTTP/1.1 200 OK\r\n" .. ("X-Long: " .. ("y"):rep(390) .. "\r\n"):rep(50)
    local r = same_split(long)
    assert.same({ "error", "response head too long", "protocol" }, { r[1], r[2], r[3] })
  end)

  it("is done or failed for good: nothing more is taken", function()
    local d = core.http_decoder()
    assert.same({ true, "", "x" }, { d:feed("HTTP/1.1 204 No Content\r\n\r\nx") })
    assert.same({ true, "", "more" }, { d:feed("more") })
    assert.is_true(d:eof())
    d = core.http_decoder()
    d:feed("junk")
    assert.same({ nil, "malformed response head", "protocol", "" }, { d:feed("HTTP/1.1 200 OK\r\n\r\n") })
    assert.same({ nil, "malformed response head", "protocol" }, { d:eof() })
  end)

  it("starts at the body of a head read elsewhere (Conn:read_head)", function()
    local d = core.http_decoder{ status = 404, headers = { ["content-length"] = "3", connection = "close" } }
    assert.same({ true, "abc", "def" }, { d:feed("abcdef") })
    assert.is_false(d:keepalive())
    assert.is_nil(d:head())
    d = core.http_decoder{ status = 200, headers = { ["transfer-encoding"] = "chunked" } }
    assert.same({ true, "hi", "" }, { d:feed("2\r\nhi\r\n0\r\n\r\n") })
    d = core.http_decoder{ status = 500, headers = {} }
    assert.same({ false, "text" }, { d:feed("text") })
    assert.is_true(d:eof())
    assert.has_error(function() core.http_decoder{ status = "x", headers = {} } end,
      "bad argument #1 to 'http_decoder' (field 'status' must be an integer)")
    assert.has_error(function() core.http_decoder{ status = 200 } end,
      "bad argument #1 to 'http_decoder' (field 'headers' must be a table)")
  end)

  it("prints its class name", function()
    assert.matches("^dockerpty%.HttpDecoder %(0x%x+%)$", tostring(core.http_decoder()))
  end)
end)

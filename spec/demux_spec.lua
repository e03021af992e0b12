-- spec/demux_spec.lua: core.demux(), the decoder of Docker's multiplexed
-- stream (docs/protocol.md, "Stream framing"), against a plain Lua reference
-- decoder: frames split at every byte, every stream type, cut streams,
-- zero-length frames, padding, huge lengths.
local core = require("dockerpty.core")

-- An 8-byte header: type, padding (default zeros), big-endian length.
local function header(kind, len, pad)
  pad = pad or "\0\0\0"
  return string.char(kind) .. pad .. string.pack(">I4", len)
end

local function frame(kind, payload, pad)
  return header(kind, #payload, pad) .. payload
end

-- The reference decoder: the whole stream at once, written plainly.
-- Returns stdout, stderr and "ok", "truncated header" or "truncated payload".
local function reference(data)
  local out, err = {}, {}
  local pos = 1
  while pos <= #data do
    if #data - pos + 1 < 8 then
      return table.concat(out), table.concat(err), "truncated header"
    end
    local kind = data:byte(pos)
    local len = string.unpack(">I4", data, pos + 4)
    local payload = data:sub(pos + 8, pos + 7 + len)
    if kind == 2 then
      err[#err + 1] = payload
    else
      out[#out + 1] = payload
    end
    if #payload < len then
      return table.concat(out), table.concat(err), "truncated payload"
    end
    pos = pos + 8 + len
  end
  return table.concat(out), table.concat(err), "ok"
end

-- d:feed(s) as pieces, message, name: on an error the pieces before it
-- (its fourth value) come first, as they did before the error shape of the
-- core (nil, message, NAME, partial); the shape itself is checked below.
local function feed(d, s)
  local pieces, msg, name, partial = d:feed(s)
  if pieces == nil then
    assert(type(msg) == "string" and type(name) == "string" and type(partial) == "table")
    return partial, msg, name
  end
  return pieces
end

-- Feed `chunks` (an array of strings) one by one; collect what comes out.
-- Checks on every piece: stream 1 or 2, non-empty, no larger than its input.
local function run(d, chunks)
  local out, err, npieces = {}, {}, 0
  for _, chunk in ipairs(chunks) do
    local pieces, msg, name = feed(d, chunk)
    assert(msg == nil, "unexpected error: " .. tostring(msg) .. " " .. tostring(name))
    for _, p in ipairs(pieces) do
      local stream, bytes = p[1], p[2]
      assert(stream == 1 or stream == 2, "bad stream " .. tostring(stream))
      assert(#bytes > 0, "empty piece")
      assert(#bytes <= #chunk, "piece larger than its input")
      npieces = npieces + 1
      if stream == 1 then out[#out + 1] = bytes else err[#err + 1] = bytes end
    end
  end
  return table.concat(out), table.concat(err), npieces
end

-- Split `data` at the given 0-based positions.
local function split(data, ...)
  local chunks, last = {}, 0
  for _, p in ipairs({ ... }) do
    chunks[#chunks + 1] = data:sub(last + 1, p)
    last = p
  end
  chunks[#chunks + 1] = data:sub(last + 1)
  return chunks
end

local function vmrss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

describe("demux", function()
  it("creates decoders with a named type", function()
    local d = core.demux()
    assert.matches("^dockerpty%.Demux %(0x%x+%)$", tostring(d))
    assert.is_true(d:eof())
    assert.is_nil(d:error())
  end)

  it("raises on a bad argument", function()
    local d = core.demux()
    assert.has_error(function() d:feed() end,
      "bad argument #1 to 'feed' (string expected, got no value)")
    assert.has_error(function() d:feed({}) end,
      "bad argument #1 to 'feed' (string expected, got table)")
    assert.has_error(function() d.eof(io.stdout) end,
      "bad argument #1 to 'eof' (dockerpty.Demux expected, got FILE*)")
  end)

  it("routes type 1 to stdout, 2 to stderr and 0 to stdout", function()
    local d = core.demux()
    local pieces, msg = feed(d, frame(1, "out") .. frame(2, "err") .. frame(0, "in"))
    assert.is_nil(msg)
    assert.same({ { 1, "out" }, { 2, "err" }, { 1, "in" } }, pieces)
    assert.is_true(d:eof())
  end)

  it("reports pieces as found, never merged", function()
    local d = core.demux()
    local pieces = feed(d, frame(1, "ab") .. frame(1, "cd") .. header(1, 4) .. "ef")
    assert.same({ { 1, "ab" }, { 1, "cd" }, { 1, "ef" } }, pieces)
    assert.same({ { 1, "g" }, { 1, "h" } }, { feed(d, "g")[1], feed(d, "h")[1] })
    assert.is_true(d:eof())
  end)

  it("reassembles a frame split at every position", function()
    local data = frame(1, "hello") .. frame(2, "world!")
    for i = 0, #data do
      for j = i, #data do
        local d = core.demux()
        local out, err = run(d, split(data, i, j))
        assert.equal("hello", out, "split at " .. i .. ", " .. j)
        assert.equal("world!", err, "split at " .. i .. ", " .. j)
        assert.is_true(d:eof())
      end
    end
  end)

  it("reassembles a stream fed one byte at a time", function()
    local data = frame(1, "abc") .. frame(0, "") .. frame(2, "de") .. frame(1, "f")
    local chunks = {}
    for i = 1, #data do chunks[i] = data:sub(i, i) end
    local d = core.demux()
    local out, err, n = run(d, chunks)
    assert.equal("abcf", out)
    assert.equal("de", err)
    assert.equal(6, n)
    assert.is_true(d:eof())
  end)

  it("decodes a captured stream at every chunk size, all 256 byte values intact", function()
    local data = require("busted.fixtures").read("fixtures/frames_stdout_stderr.bin", true)
    local cyc = {}
    for i = 0, 255 do cyc[#cyc + 1] = string.char(i) end
    cyc = table.concat(cyc)
    for size = 1, #data do
      local chunks = {}
      for i = 1, #data, size do chunks[#chunks + 1] = data:sub(i, i + size - 1) end
      local d = core.demux()
      local out, err = run(d, chunks)
      assert.is_true("hello\n" .. cyc .. "no newline" == out, "chunk size " .. size)
      assert.is_true("oops\n" .. cyc:reverse() == err, "chunk size " .. size)
      assert.is_true(d:eof())
    end
  end)

  it("passes frames larger than any buffer in one piece", function()
    local big = string.rep("0123456789abcdef", 2048) .. "123456789"   -- 32 KiB + 9
    local huge = string.rep("\0\255", 300 * 1024)
    local d = core.demux()
    local pieces = feed(d, frame(1, big) .. frame(2, huge) .. frame(1, big))
    assert.equal(3, #pieces)
    assert.equal(#big, #pieces[1][2])
    assert.equal(big, pieces[1][2])
    assert.equal(huge, pieces[2][2])
    assert.equal(2 * #big + #huge, #pieces[1][2] + #pieces[2][2] + #pieces[3][2])
  end)

  it("ignores zero-length frames", function()
    local d = core.demux()
    local z = header(1, 0) .. header(2, 0) .. header(0, 0)
    assert.same({}, feed(d, z))
    assert.is_true(d:eof())
    assert.same({ { 2, "x" } }, feed(d, z .. frame(2, "x") .. z))
    assert.is_true(d:eof())
  end)

  it("accepts non-zero padding bytes", function()
    local d = core.demux()
    local pieces, msg = feed(d, frame(1, "hi", "\255\1\7") .. frame(2, "yo", "abc"))
    assert.is_nil(msg)
    assert.same({ { 1, "hi" }, { 2, "yo" } }, pieces)
  end)

  it("reports the daemon's text of a type 3 frame and writes nothing", function()
    local d = core.demux()
    local pieces, msg, name = feed(d, frame(1, "before") ..
      frame(3, "container is dead\r\n") .. frame(1, "after"))
    assert.same({ { 1, "before" } }, pieces)
    assert.equal("container is dead", msg)
    assert.equal("daemon", name)
    -- sticky
    pieces, msg, name = feed(d, frame(1, "more"))
    assert.same({}, pieces)
    assert.equal("container is dead", msg)
    assert.equal("daemon", name)
    assert.same({ "container is dead", "daemon" }, { d:error() })
    assert.is_true(d:eof())
  end)

  it("fails as nil, message, NAME, the pieces before the error", function()
    local d = core.demux()
    local r = table.pack(d:feed(frame(2, "ok") .. frame(3, "gone\n") .. frame(1, "x")))
    assert.same({ n = 4, nil, "gone", "daemon", { { 2, "ok" } } }, r)
  end)

  it("collects a type 3 text split across feeds and trims only trailing CR/LF", function()
    local data = frame(3, "line 1\r\n\nline 2\n\r\n")
    local d = core.demux()
    for i = 1, #data - 1 do
      local pieces, msg = feed(d, data:sub(i, i))
      assert.same({}, pieces)
      assert.is_nil(msg)
    end
    local pieces, msg, name = feed(d, data:sub(-1))
    assert.same({}, pieces)
    assert.equal("line 1\r\n\nline 2", msg)
    assert.equal("daemon", name)
  end)

  it("keeps the first 1024 bytes of a long type 3 text and skips the rest", function()
    local text = string.rep("x", 1000) .. string.rep("y", 4000)
    local d = core.demux()
    local pieces, msg, name = feed(d, frame(3, text))
    assert.same({}, pieces)
    assert.equal(text:sub(1, 1024), msg)
    assert.equal("daemon", name)
  end)

  it("gives an empty type 3 frame as an empty daemon error", function()
    local d = core.demux()
    local pieces, msg, name = feed(d, header(3, 0) .. frame(1, "x"))
    assert.same({}, pieces)
    assert.equal("", msg)
    assert.equal("daemon", name)
  end)

  it("keeps the text of a type 3 frame cut short at EOF", function()
    local d = core.demux()
    local pieces, msg = feed(d, header(3, 100) .. "no such file\r\n")
    assert.same({}, pieces)
    assert.is_nil(msg)
    assert.same({ nil, "truncated payload", "truncated" }, { d:eof() })
    assert.same({ "no such file", "daemon" }, { d:error() })
  end)

  it("stops at an unknown stream type, naming the byte", function()
    for _, kind in ipairs({ 4, 73, 255 }) do
      local d = core.demux()
      local pieces, msg, name = feed(d, frame(2, "ok") .. frame(kind, "Invalid input") .. frame(1, "x"))
      assert.same({ { 2, "ok" } }, pieces)
      assert.equal("unrecognized stream type " .. kind, msg)
      assert.equal("protocol", name)
      pieces, msg, name = feed(d, frame(1, "more"))
      assert.same({}, pieces)
      assert.equal("unrecognized stream type " .. kind, msg)
      assert.equal("protocol", name)
      assert.same({ "unrecognized stream type " .. kind, "protocol" }, { d:error() })
    end
  end)

  it("reads raw TTY text as an unknown type, never as output", function()
    local d = core.demux()
    local pieces, msg, name = feed(d, "Invalid input header\r\n")
    assert.same({}, pieces)
    assert.equal("unrecognized stream type 73", msg)
    assert.equal("protocol", name)
  end)

  it("reports a short header at EOF", function()
    local d = core.demux()
    assert.same({}, feed(d, "\1\2\3"))
    assert.same({ nil, "truncated header", "truncated" }, { d:eof() })
    for n = 1, 7 do
      d = core.demux()
      assert.same({ { 1, "ok" } }, feed(d, frame(1, "ok") .. header(2, 5):sub(1, n)))
      assert.same({ nil, "truncated header", "truncated" }, { d:eof() })
    end
  end)

  it("delivers the bytes of a truncated payload, then flags it", function()
    local d = core.demux()
    assert.same({ { 2, "1234" } }, feed(d, header(2, 10) .. "1234"))
    assert.same({ nil, "truncated payload", "truncated" }, { d:eof() })
    assert.same({ { 2, "567890" } }, feed(d, "567890"))
    assert.is_true(d:eof())
  end)

  it("starts over after reset", function()
    local d = core.demux()
    local _, msg = feed(d, frame(9, ""))
    assert.equal("unrecognized stream type 9", msg)
    assert.equal(d, d:reset())
    assert.is_nil(d:error())
    assert.same({ { 1, "x" } }, feed(d, frame(1, "x")))
    feed(d, "\1\0")
    d:reset()
    assert.is_true(d:eof())
  end)

  it("streams a frame claiming 0xFFFFFFFF bytes in bounded memory", function()
    local chunk = string.rep("0123456789ABCDEF", 65536)   -- 1 MiB
    -- RSS growth of 64 plain 1 MiB string copies, for comparison: about zero
    -- with glibc malloc, but ASan's quarantine keeps freed memory resident.
    collectgarbage()
    local base = vmrss_kib()
    for i = 1, 64 do
      assert(#chunk:sub(2) == #chunk - 1)
      if i % 4 == 0 then collectgarbage() end
    end
    local control = vmrss_kib() - base
    local d = core.demux()
    assert.same({ { 2, "head" } }, feed(d, header(2, 0xFFFFFFFF) .. "head"))
    collectgarbage()
    local kib0, rss0 = collectgarbage("count"), vmrss_kib()
    local peak_kib, peak_rss = kib0, rss0
    for i = 1, 64 do
      local pieces, msg = feed(d, chunk)
      assert.is_nil(msg)
      assert.equal(1, #pieces)
      assert.equal(2, pieces[1][1])
      assert.equal(chunk, pieces[1][2])
      pieces = nil -- luacheck: ignore 311
      if i % 4 == 0 then
        collectgarbage()
        peak_kib = math.max(peak_kib, collectgarbage("count"))
        peak_rss = math.max(peak_rss, vmrss_kib())
      end
    end
    assert.is_true(peak_kib - kib0 < 256, "Lua heap grew by " .. (peak_kib - kib0) .. " KiB")
    assert.is_true(peak_rss - rss0 < math.max(control, 0) + 8 * 1024,
      ("RSS grew by %d KiB (plain copies: %d KiB)"):format(peak_rss - rss0, control))
    assert.same({ nil, "truncated payload", "truncated" }, { d:eof() })
  end)

  it("ends a 0xFFFFFFFF-byte frame exactly where it claims to", function()
    local chunk = string.rep("0123456789ABCDEF", 65536)   -- 1 MiB
    local d = core.demux()
    assert.same({}, feed(d, header(0, 0xFFFFFFFF)))
    local total = 0
    for _ = 1, 4095 do
      local pieces = feed(d, chunk)
      assert(#pieces == 1 and pieces[1][1] == 1 and #pieces[1][2] == #chunk)
      total = total + #chunk
    end
    local rest = 0xFFFFFFFF - total
    local pieces, msg = feed(d, chunk:sub(1, rest) .. frame(2, "next"))
    assert.is_nil(msg)
    assert.equal(2, #pieces)
    assert.equal(1, pieces[1][1])
    assert.equal(rest, #pieces[1][2])
    assert.is_true(chunk:sub(1, rest) == pieces[1][2])
    assert.same({ 2, "next" }, pieces[2])
    assert.is_true(d:eof())
  end)

  it("reads the length big-endian", function()
    local d = core.demux()
    local len = 0x01020304
    assert.same({}, feed(d, header(1, len)))
    local pieces = feed(d, string.rep("x", len - 1))
    assert.equal(len - 1, #pieces[1][2])
    assert.same({ nil, "truncated payload", "truncated" }, { d:eof() })
    assert.same({ { 1, "y" }, { 2, "z" } }, feed(d, "y" .. frame(2, "z")))
    assert.is_true(d:eof())
  end)

  describe("against the reference decoder", function()
    local seed = tonumber(os.getenv("DEMUX_SEED")) or 20240611
    print(("demux_spec: random seed %d (set DEMUX_SEED to change)"):format(seed))

    -- A payload of `len` bytes: a short random pattern repeated.
    local function payload(len)
      local pat = {}
      for i = 1, math.random(1, 16) do pat[i] = math.random(0, 255) end
      local p = string.char(table.unpack(pat))
      return string.rep(p, len // #p + 1):sub(1, len)
    end

    -- Frame lengths: mostly small, some zero, a few up to 300 KiB.
    local function length(small_only)
      local r = math.random()
      if r < 0.15 then return 0 end
      if r < 0.75 or small_only then return math.random(1, 64) end
      if r < 0.93 then return math.random(65, 8192) end
      return math.random(8193, 300 * 1024)
    end

    -- Chunk sizes log-uniform from 1 byte to 256 KiB, or tiny for small streams.
    local function chunks_of(data, tiny)
      local chunks, pos = {}, 1
      while pos <= #data do
        local n = tiny and math.random(1, 9) or math.floor(2 ^ (math.random() * 18))
        chunks[#chunks + 1] = data:sub(pos, pos + n - 1)
        pos = pos + n
      end
      return chunks
    end

    it("gives the same stdout and stderr for 1,000 random streams", function()
      math.randomseed(seed)
      local total = 0
      for round = 1, 1000 do
        local tiny = round % 8 == 0
        local frames = {}
        for i = 1, math.random(1, 12) do
          local pad = math.random() < 0.1 and "\1\2\3" or nil
          frames[i] = frame(math.random(0, 2), payload(length(tiny)), pad)
        end
        local data = table.concat(frames)
        local cut = math.random() < 0.2 and math.random(0, #data) or #data
        data = data:sub(1, cut)
        total = total + #data
        local want_out, want_err, want_status = reference(data)
        local d = core.demux()
        local out, err = run(d, chunks_of(data, tiny))
        local ctx = ("seed %d round %d"):format(seed, round)
        assert.equal(#want_out, #out, ctx)
        assert.is_true(want_out == out, ctx)
        assert.is_true(want_err == err, ctx)
        local ok, msg = d:eof()
        assert.equal(want_status, ok and "ok" or msg, ctx)
      end
      assert.is_true(total > 10 * 1024 * 1024)
    end)
  end)
end)

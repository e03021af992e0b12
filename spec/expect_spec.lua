-- spec/expect_spec.lua: dockerpty.expect, the matcher behind Session:expect.
local expect = require("dockerpty.expect")

-- What a plain full search finds: the leftmost match of any pattern (the
-- first on a tie) in s; returns index, start, end, find's captures.
local function reference(s, patterns, plain)
  local best
  for i, p in ipairs(patterns) do
    local r = table.pack(s:find(p, 1, plain))
    if r[1] and (not best or r[1] < best[2]) then best = { i, table.unpack(r, 1, r.n) } end
  end
  return best
end

describe("dockerpty.expect", function()
  it("returns the index, the text before the match and the whole match, and consumes through it", function()
    local m = expect.new()
    m:push("stdout", "login: ")
    assert.same({ 2, "", "login: " }, { m:match({ "Password:", "login: " }, { plain = true }) })
    assert.equal("", m:buffer("stdout"))
    m:push("stdout", "welcome\n$ ls\n")
    assert.same({ 1, "welcome\n", "$ " }, { m:match("%$ ") })
    assert.equal("ls\n", m:buffer("stdout"))
  end)

  it("returns the pattern's captures instead of the whole match", function()
    local m = expect.new()
    m:push("stdout", "3 packets transmitted, 2 received\n")
    assert.same({ 1, "", "3", "2" }, { m:match("(%d+) packets transmitted, (%d+) received") })
    m:push("stdout", "key=value;")
    -- position captures count in the buffer as it was before the match
    assert.same({ 1, "\nkey", 5, "value", 11 }, { m:match("()=(%a+)();") })
  end)

  it("finds the leftmost match of any pattern, the first listed on a tie", function()
    local m = expect.new()
    m:push("stdout", "xx error: disk full; warning: low")
    assert.same({ 2, "xx ", "error" }, { m:match({ "warning", "error", "err" }) })
    assert.same({ 1, ": disk full; ", "warning" }, { m:match({ "warning", "w%a+" }) })
  end)

  it("matches literally with plain", function()
    local m = expect.new()
    m:push("stdout", "cost: $5.00 (approx)")
    assert.same({ 1, "cost: ", "$5.00 (" }, { m:match("$5.00 (", { plain = true }) })
    assert.is_nil(m:match("a.c", { plain = true }))
    m:push("stdout", " abc a.c")
    assert.same({ 1, "approx) abc ", "a.c" }, { m:match("a.c", { plain = true }) })
  end)

  it("returns nil until the match is complete, then finds it across pieces", function()
    local m = expect.new()
    for c in ("Password"):gmatch(".") do
      m:push("stdout", c)
      assert.is_nil(m:match("Password: $"))
    end
    m:push("stdout", ": ")
    assert.same({ 1, "", "Password: " }, { m:match("Password: $") })
  end)

  it("keeps stdout and stderr apart", function()
    local m = expect.new()
    m:push("stderr", "warning: x\n")
    m:push("stdout", "result 42\n")
    assert.is_nil(m:match("warning"))
    assert.same({ 1, "result ", "42" }, { m:match("(%d+)") })
    assert.same({ 1, "", "warning" }, { m:match("warning", { stream = "stderr" }) })
    assert.equal(": x\n", m:buffer("stderr"))
    assert.equal("\n", m:buffer("stdout"))
  end)

  it("tells the end of a stream, keeping the unmatched text", function()
    local m = expect.new()
    m:push("stdout", "partial prompt")
    assert.is_false(m:eof("stdout"))
    m:push("stdout", nil)
    assert.is_true(m:eof("stdout"))
    assert.is_false(m:eof("stderr"))
    assert.is_nil(m:match("%$ $"))
    assert.equal("partial prompt", m:buffer("stdout"))
    assert.same({ 1, "partial ", "prompt" }, { m:match("prompt") })
  end)

  it("holds at most the window per stream, dropping the oldest bytes", function()
    assert.equal(1024 * 1024, expect.WINDOW)
    local m = expect.new()
    local piece = ("0123456789abcdef"):rep(4096)   -- 64 KiB
    for _ = 1, 24 do m:push("stdout", piece) end   -- 1.5 MiB
    assert.is_nil(m:match("never"))
    local kept = m:buffer("stdout")
    assert.equal(expect.WINDOW, #kept)
    assert.equal(piece:rep(16), kept)
    m = expect.new({ window = 10 })
    m:push("stdout", "BEGIN 123456789")
    assert.is_nil(m:match("BEGIN", { plain = true }))
    assert.equal("123456789", m:buffer("stdout"):sub(-9))
    assert.equal(10, #m:buffer("stdout"))
  end)

  it("finds what a full search finds, however the stream is cut", function()
    local sets = {
      { { "ab", "%f[%w]cd%f[%W]", "x?yz", "^q" } },
      { { "[%]%-]+a", "(b)(%a)", "%bab", "(a).-%1" } },
      { { "ab", "b", "abc" }, true },
      { { "%d%d%d$", "%s%s" } },
    }
    local rnd = 12345
    local function random(n)
      rnd = (rnd * 1103515245 + 12345) % 2147483648
      return rnd % n + 1
    end
    local alphabet = { "a", "b", "c", "d", "q", "x", "y", "z", "1", "2", " ", "]", "-" }
    for _, set in ipairs(sets) do
      for _ = 1, 150 do
        local text = {}
        for k = 1, random(60) do text[k] = alphabet[random(#alphabet)] end
        text = table.concat(text)
        local m, buf, i = expect.new(), "", 1
        while i <= #text do
          local j = math.min(#text, i + random(5) - 1)
          m:push("stdout", text:sub(i, j))
          buf = buf .. text:sub(i, j)
          i = j + 1
          while true do
            local got = table.pack(m:match(set[1], { plain = set[2] }))
            local want = reference(buf, set[1], set[2])
            if not want then
              assert.is_nil(got[1], ("text %q cut at %d: got a match"):format(text, j))
              break
            end
            local expected = { want[1], buf:sub(1, want[2] - 1) }
            if #want <= 3 then expected[3] = buf:sub(want[2], want[3]) end
            for k = 4, #want do expected[k - 1] = want[k] end
            assert.same(expected, { table.unpack(got, 1, got.n) }, ("text %q up to %d"):format(text, j))
            buf = buf:sub(want[3] + 1)
            assert.equal(buf, m:buffer("stdout"))
          end
        end
      end
    end
  end)

  it("searches a long unmatched stream arriving in small pieces in linear time #novalgrind", function()
    local piece = ("abcdefghij"):rep(10)
    local function cost(total, patterns, opts)
      local m = expect.new()
      local t0 = os.clock()
      for _ = 1, total // #piece do
        m:push("stdout", piece)
        assert.is_nil(m:match(patterns, opts))
      end
      return os.clock() - t0
    end
    -- 3 MiB in 100-byte pieces: a search of the whole window on every piece
    -- would take minutes (over 20,000 searches of 1 MiB).
    local plain = cost(3 * 2 ^ 20, { "Password:", "$ " }, { plain = true })
    local bounded = cost(3 * 2 ^ 20, { "[Pp]assword: $", "%$ $" })
    local anchored = cost(3 * 2 ^ 20, { "^login: ", "^%$ " })
    assert.is_true(anchored < 4, "anchored: " .. anchored)
    local unbounded = cost(3 * 2 ^ 20, { "(%d+) packets", "x.-y" })
    assert.is_true(plain < 4, "plain: " .. plain)
    assert.is_true(bounded < 4, "bounded: " .. bounded)
    assert.is_true(unbounded < 8, "unbounded: " .. unbounded)
    -- and twice the stream costs about twice as much, not four times
    local unbounded2 = cost(6 * 2 ^ 20, { "(%d+) packets", "x.-y" })
    assert.is_true(unbounded2 < 3 * unbounded, ("unbounded %.2f then %.2f s"):format(unbounded, unbounded2))
  end)

  it("defers a full search of a big buffer briefly, and finds the match then or with final", function()
    local now, cpu = 10, 0
    -- every full search takes 0.005 s of this CPU clock (read before and after)
    local m = expect.new({ clock = function() return now end,
      cpu_clock = function() cpu = cpu + 0.005; return cpu end })
    local pat = "START.-END"
    m:push("stdout", ("z"):rep(200000))
    assert.is_nil(m:match(pat))
    m:push("stdout", "START x END")
    local r, wait = m:match(pat)
    assert.is_nil(r)
    assert.is_true(wait > 0 and wait <= 0.02, tostring(wait))
    now = now + wait
    assert.same({ 1, ("z"):rep(200000), "START x END" }, { m:match(pat) })
    m:push("stdout", ("z"):rep(200000))
    assert.is_nil(m:match(pat))
    m:push("stdout", "START y END")
    assert.is_nil(m:match(pat))
    assert.same({ 1, ("z"):rep(200000), "START y END" }, { m:match(pat, { final = true }) })
  end)

  it("raises Lua's own message for an invalid pattern, naming it, at the caller", function()
    local m = expect.new()
    m:push("stdout", "abc")
    local cases = {
      { "a%", "malformed pattern (ends with '%')" },
      { "[a", "malformed pattern (missing ']')" },
      { "(a", "unfinished capture" },
      { "a)", "invalid pattern capture" },
      { "%b", "malformed pattern (missing arguments to '%b')" },
      { "%fa", "missing '[' after '%f' in pattern" },
      { "(a)%2", "invalid capture index %2" },
      { "zzz%", "malformed pattern (ends with '%')" },   -- Lua itself reports it only when a match gets there
    }
    for _, c in ipairs(cases) do
      local ok, msg = pcall(string.find, "a", c[1])
      if not ok then assert.equal(c[2], msg) end   -- the same text as Lua's
      assert.has_error(function() m:match({ "abc", c[1] }) end,
        ("bad argument #1 to 'expect' (invalid pattern '%s': %s)"):format(c[1], c[2]))
    end
    local line
    local ok, err = pcall(function()
      line = debug.getinfo(1, "l").currentline; m:match("x%")
    end)
    assert.is_false(ok)
    assert.equal(("spec/expect_spec.lua:%d: bad argument #1 to 'expect' (invalid pattern 'x%%': "
      .. "malformed pattern (ends with '%%'))"):format(line), err)
    -- a session method passes level 2: the error points at its caller
    local function session_expect(p)
      local i = m:match(p, nil, 2)   -- not a tail call: that frame would be gone
      return i
    end
    ok, err = pcall(function()
      line = debug.getinfo(1, "l").currentline; session_expect("(")
    end)
    assert.is_false(ok)
    assert.matches("^spec/expect_spec.lua:" .. line .. ": bad argument #1 to 'expect' %(invalid pattern '%('", err)
    assert.equal("abc", m:buffer("stdout"))
  end)

  it("raises on patterns that are not a string or a non-empty list of strings", function()
    local m = expect.new()
    assert.has_error(function() m:match(nil) end,
      "bad argument #1 to 'expect' (pattern or non-empty list of patterns expected, got nil)")
    assert.has_error(function() m:match({}) end,
      "bad argument #1 to 'expect' (pattern or non-empty list of patterns expected, got empty table)")
    assert.has_error(function() m:match({ "a", 3 }) end,
      "bad argument #1 to 'expect' (pattern 2: string expected, got number)")
  end)
end)

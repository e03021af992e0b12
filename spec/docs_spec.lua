-- spec/docs_spec.lua: the hand-written docs stay true to the tree: every C
-- file and Lua module is placed in docs/design.md's layers, and no comment
-- cites a document that is not in the repository.
local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

describe("docs/design.md", function()
  it("names every C file and Lua module of today's tree", function()
    local design = read("docs/design.md")
    local files = lines_of("ls src/*.c lua/dockerpty/*.lua spec/support/testcore.c")
    assert.is_true(#files > 30)
    local missing = {}
    for _, f in ipairs(files) do
      local base = f:match("[^/]+$")
      if not design:find(base, 1, true) then missing[#missing + 1] = f end
    end
    assert.same({}, missing)
  end)
end)

describe("comments", function()
  it("cite no document outside the repository", function()
    local hits = lines_of("grep -rlE 'PROTOCOL\\.md|RELIABILITY\\.md' src lua spec mk bin examples bench "
      .. "Makefile README.md docs 2>/dev/null | grep -v '^spec/docs_spec.lua$'")
    assert.same({}, hits)
  end)

  it("nor cite its case, section or practice numbers, in a comment or a test title", function()
    -- "(case 63)", "cases 40, 41", "section 7", "practice 5": the numbering
    -- of a document a reader of the repository does not have (a C switch's
    -- `case 1:` is not one; a section of docs/design.md or docs/protocol.md
    -- may be cited)
    local hits = lines_of("grep -rnE '\\b[Cc]ases? [0-9]+([^0-9:x]|$)|\\b([Ss]ections?|[Pp]ractices?) [0-9]' "
      .. "src lua spec 2>/dev/null | grep -v '^spec/docs_spec.lua:' | grep -vE 'docs/(design|protocol)\\.md'")
    assert.same({}, hits)
  end)
end)

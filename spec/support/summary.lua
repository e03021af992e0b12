-- spec/support/summary.lua: busted's terminal output, plus a plain closing
-- line "N passed, N failed, N skipped" (errors count as failed, pending as
-- skipped) that CI and other tools read. Used by `make test` through
-- busted's `-o` option.
return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.utfTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    io.write(("\n%d passed, %d failed, %d skipped\n"):format(handler.successesCount,
      handler.failuresCount + handler.errorsCount, handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end

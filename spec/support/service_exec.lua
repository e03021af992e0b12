-- spec/support/service_exec.lua: `dockerpty service ARGS...` for the specs,
-- until the command itself dispatches `service` (lua/dockerpty/service_cli.lua).
os.exit(require("dockerpty.service_cli").main(arg))

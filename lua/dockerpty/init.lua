--- dockerpty: attach the current terminal to a Docker container's pseudo-tty.
-- @module dockerpty
local core = require("dockerpty.core")

local M = {}

M.core = core
M._VERSION = core._VERSION

return M

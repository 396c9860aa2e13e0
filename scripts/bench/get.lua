-- A GET of the URL given on the command line, with the app's key.
package.path = package.path .. ";scripts/bench/?.lua"
local c = require("common")
wrk.headers["Authorization"] = c.auth

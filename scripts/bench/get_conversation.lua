-- GET one conversation, a random one of the seeded conversations each time.
package.path = package.path .. ";scripts/bench/?.lua"
local c = require("common")
wrk.headers["Authorization"] = c.auth
request = function()
  return wrk.format("GET", c.conversation(c.pick()))
end

-- GET the newest page (10) of a random conversation's messages.
package.path = package.path .. ";scripts/bench/?.lua"
local c = require("common")
wrk.headers["Authorization"] = c.auth
request = function()
  return wrk.format("GET", c.conversation(c.pick()) .. "/messages")
end

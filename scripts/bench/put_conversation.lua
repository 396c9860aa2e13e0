-- PUT merge: sets one of ten custom keys of a random conversation.
package.path = package.path .. ";scripts/bench/?.lua"
local c = require("common")
wrk.headers["Authorization"] = c.auth
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"custom":{"k%d":"v%d"}}', math.random(0, 9), math.random(0, 999999))
  return wrk.format("PUT", c.conversation(c.pick()), nil, body)
end

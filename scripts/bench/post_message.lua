-- POST one message into a random conversation, sent by one of its participants.
package.path = package.path .. ";scripts/bench/?.lua"
local c = require("common")
wrk.headers["Authorization"] = c.auth
wrk.headers["Content-Type"] = "application/json"
request = function()
  local i = c.pick()
  local body = string.format(
    '[{"text":"benchmark message","type":"UserMessage","sender":"u%d"}]', (i * 7) % c.users)
  return wrk.format("POST", c.conversation(i) .. "/messages", nil, body)
end

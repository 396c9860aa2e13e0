-- GET a random user's conversations (first page), with the query string in BENCH_QUERY.
package.path = package.path .. ";scripts/bench/?.lua"
local c = require("common")
local query = os.getenv("BENCH_QUERY") or ""
wrk.headers["Authorization"] = c.auth
request = function()
  return wrk.format("GET", string.format("/v1/bench/users/u%d/conversations%s",
    math.random(0, c.users - 1), query))
end

-- Shared by the load scripts: the app's key and the number of seeded conversations.
local M = {}
-- Each wrk thread has its own Lua state: seed each differently (and differently per run), or
-- every thread and run would replay the same "random" requests, and repeated PUTs change
-- nothing.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
M.n = tonumber(os.getenv("BENCH_N") or "1000000")
M.users = tonumber(os.getenv("BENCH_USERS") or "100000")
M.auth = "Bearer " .. (os.getenv("BENCH_KEY") or "sk_test_bench")
function M.conversation(i)
  return string.format("/v1/bench/conversations/c%07d", i)
end
function M.pick()
  return math.random(0, M.n - 1)
end
return M

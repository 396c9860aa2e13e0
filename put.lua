wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk_test_bench"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/v1/bench/conversations/p" .. (counter % 1000), nil, '{"participants":["a","b"],"custom":{"k' .. (counter % 7) .. '":"v' .. counter .. '"}}')
end

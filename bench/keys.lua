-- wrk script for bench/redis-limiter.sh: every request sends the next API key of KEYS_FILE (one
-- per line), so that many rate-limited credentials share the load and none reaches its limit.
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if line ~= "" then keys[#keys + 1] = line end
end
local n = math.random(0, #keys - 1)
request = function()
  n = n % #keys + 1
  return wrk.format("GET", nil, {["X-API-Key"] = keys[n]})
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end

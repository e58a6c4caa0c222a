-- wrk script for bench/scale.sh. PATHS names a file of request paths, one a line; every
-- request takes one at random. AUTH is an Authorization header value. The summary line is
-- parsed by scale.sh (as with request.lua).
local paths = {}
for line in io.lines(os.getenv("PATHS")) do
  paths[#paths + 1] = line
end
wrk.headers["Authorization"] = os.getenv("AUTH")

init = function()
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

request = function()
  return wrk.format("GET", paths[math.random(1, #paths)])
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end

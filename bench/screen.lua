-- wrk script for bench/screening.sh: POST /v2/watchlist/screen, cycling through the request
-- bodies in QUERIES (one JSON body per line), with AUTH as the Authorization header. Each
-- thread starts at a different line so that threads do not screen the same name in step.
local auth = os.getenv("AUTH")
local bodies = {}
for line in io.lines(os.getenv("QUERIES")) do
  bodies[#bodies + 1] = line
end
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = auth }
local i = 0
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("offset", threads * 37)
end

init = function(args)
  i = (offset or 0) % #bodies
end

request = function()
  i = i % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[i])
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.status))
end

-- wrk script for bench/dpop.sh. Each request takes the next line of LINES_FILE (single-use
-- JWTs made ahead by bench/dpop_gen.py), round robin per thread from a different start.
-- MODE=get:  GET the URL with AUTH as Authorization and the line as the DPoP proof.
-- MODE=post: POST the line as an application/x-www-form-urlencoded body (token requests).
-- MODE=bearer: GET the URL with AUTH as Authorization (the baseline).
-- MODE=basic: POST grant_type=client_credentials with AUTH as Authorization (client_secret_basic).
local mode = os.getenv("MODE")
local lines = {}
local counter, n = 0, 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  if mode ~= "bearer" and mode ~= "basic" then
    for line in io.lines(os.getenv("LINES_FILE")) do
      if line ~= "" then lines[#lines + 1] = line end
    end
    -- Threads take disjoint slices: no line is sent twice while it lasts.
    local threads = tonumber(os.getenv("THREADS") or "1")
    local per = math.floor(#lines / threads)
    local mine = {}
    for i = (id - 1) * per + 1, id * per do mine[#mine + 1] = lines[i] end
    lines = mine
  end
end

function request()
  if mode == "bearer" then
    return wrk.format("GET", nil, {["Authorization"] = os.getenv("AUTH")})
  end
  if mode == "basic" then
    return wrk.format("POST", nil, {["Authorization"] = os.getenv("AUTH"),
      ["Content-Type"] = "application/x-www-form-urlencoded"}, "grant_type=client_credentials")
  end
  n = n % #lines + 1
  if mode == "get" then
    return wrk.format("GET", nil, {["Authorization"] = os.getenv("AUTH"), ["DPoP"] = lines[n]})
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, lines[n])
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end

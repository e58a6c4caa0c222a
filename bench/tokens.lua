-- wrk scripts for bench/soak.sh.
-- MODE=mint: POST the client-credentials grant (AUTH = the Basic header) and append every
--   access token to OUT_PREFIX.<thread> (one per line).
-- MODE=read: GET the URL with the next token of TOKENS_FILE as the bearer, round robin, so
--   the resource API verifies every distinct token again and again.
local mode = os.getenv("MODE")
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

if mode == "mint" then
  local out
  function init(args)
    out = io.open(os.getenv("OUT_PREFIX") .. "." .. id, "w")
  end
  wrk.method = "POST"
  wrk.body = "grant_type=client_credentials"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = os.getenv("AUTH")
  function response(status, headers, body)
    local token = body:match('"access_token":"([^"]+)"')
    if token then out:write(token, "\n") end
  end
else
  local tokens = {}
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  local n = math.random(0, #tokens - 1)
  function request()
    n = n % #tokens + 1
    return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[n]})
  end
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end

-- wrk script. METHOD (default GET), BODY and AUTH (an Authorization header value) come from
-- the environment; the summary line is parsed by run.sh.
wrk.method = os.getenv("METHOD") or "GET"
local body = os.getenv("BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local auth = os.getenv("AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

-- GUESS_CLIENT_ID set: every request guesses a different secret for that client id
-- (client_secret_post), so that no two guesses can share one verification.
local guess_id = os.getenv("GUESS_CLIENT_ID")
if guess_id and guess_id ~= "" then
  local n = 0
  request = function()
    n = n + 1
    local body = string.format("grant_type=client_credentials&client_id=%s&client_secret=cfsec_guess_%d_%d",
      guess_id, math.random(1, 1000000000), n)
    return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  end
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end

-- wrk script: POST /oauth/token with client_secret_basic. BASIC is "Basic base64(id:secret)".
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BASIC")

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), non2xx))
end

-- wrk script for bench/webhooks.sh: POST /v2/cases with a JSON body; AUTH is the
-- Authorization header value. The summary line is parsed by bench/webhooks.py.
wrk.method = "POST"
wrk.body = '{"title":"bench case","priority":"high"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("AUTH")

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end

-- wrk script for bench/screening.sh (ADVERSARIAL=1): GET with AUTH as the Authorization header,
-- reporting p50, p95 and p99.
wrk.headers["Authorization"] = os.getenv("AUTH")

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.status))
end

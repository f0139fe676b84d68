-- wrk script: a plain GET of the URL given to wrk, with the bearer TOKEN when set (the baseline
-- /healthz and the reads of issue 8). No request() or response() callback: wrk keeps its fast path.
-- usage: TOKEN=... wrk -t2 -c64 -d10s -s bench/get.lua http://127.0.0.1:8080/v1/grids/t01/stats
local token = os.getenv("TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result requests=%d seconds=%.3f non2xx=%d socket_errors=%d p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

-- wrk script: each request posts a unique IssueReported (issue 8, item 1).
-- usage: TOKEN=... GRIDS=micro-1,micro-2 RUN=tag wrk -t2 -c64 -d10s -s bench/post_report.lua http://127.0.0.1:8080/v1/events
-- GRIDS: micro-grids to report in, taken in turn (default xc-jinxiu-1, a micro-grid of the sample town);
-- RUN: a tag that makes event ids unique across runs (default the time).
-- No response() callback (it would slow wrk down): wrk counts every status that is not 2xx/3xx in
-- errors.status, and an id used once is always answered 201 when appended.
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  token = os.getenv("TOKEN")
  grids = {}
  for g in string.gmatch(os.getenv("GRIDS") or os.getenv("GRID") or "xc-jinxiu-1", "[^,]+") do table.insert(grids, g) end
  run = os.getenv("RUN") or tostring(os.time())
  headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"type":"IssueReported","event_id":"bench-%s-%d-%d","data":{"case_id":"bench-%s-%d-%d","category":"garbage","description":"bench","source":"patrol","grid_id":"%s"}}',
    run, id, counter, run, id, counter, grids[counter % #grids + 1])
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result requests=%d seconds=%.3f non2xx=%d socket_errors=%d p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

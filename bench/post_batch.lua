-- wrk script: each request posts an atomic batch {"events": [...]} of BATCH unique IssueReported (issue 8, item 2).
-- usage: TOKEN=... GRIDS=micro-1,micro-2 RUN=tag BATCH=100 wrk -t2 -c16 -d10s -s bench/post_batch.lua http://127.0.0.1:8080/v1/events
-- Every 2xx is a 201 carrying BATCH appended events; other statuses are counted by wrk in errors.status.
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  token = os.getenv("TOKEN")
  grids = {}
  for g in string.gmatch(os.getenv("GRIDS") or "xc-jinxiu-1", "[^,]+") do table.insert(grids, g) end
  run = os.getenv("RUN") or tostring(os.time())
  batch = tonumber(os.getenv("BATCH") or "100")
  headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

function request()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = string.format(
      '{"type":"IssueReported","event_id":"batch-%s-%d-%d","data":{"case_id":"batch-%s-%d-%d","category":"garbage","description":"bench","source":"patrol","grid_id":"%s"}}',
      run, id, counter, run, id, counter, grids[counter % #grids + 1])
  end
  return wrk.format("POST", nil, headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result requests=%d seconds=%.3f non2xx=%d socket_errors=%d p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

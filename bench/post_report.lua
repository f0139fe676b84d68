-- wrk script: each request posts a unique IssueReported to a micro-grid of the sample town.
-- usage: TOKEN=... GRID=xc-jinxiu-1 wrk -t2 -c64 -d10s -s bench/post_report.lua http://127.0.0.1:8080/v1/events
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("TOKEN")
  grid = os.getenv("GRID") or "xc-jinxiu-1"
  run = os.getenv("RUN") or tostring(os.time())
  created, other = 0, 0
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"type":"IssueReported","event_id":"bench-%s-%d-%d","data":{"case_id":"bench-%s-%d-%d","category":"garbage","description":"bench","source":"patrol","grid_id":"%s"}}',
    run, id, counter, run, id, counter, grid)
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format("201: %d, other: %d, p50 %.2f ms, p99 %.2f ms\n", c, o, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

// Requests and responses as the API sees them: plain data, no Beast, so handlers are testable without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gridloop::http {

struct Request {
    std::string method; // "GET", "POST", ...
    std::string target; // path and query as received
    std::string body;
    std::map<std::string, std::string> headers; // lower-case names

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// A response body produced piece by piece (NDJSON): each call fills `chunk` and returns false when done.
using ChunkSource = std::function<bool(std::string& chunk)>;

// A Server-Sent Events subscription: the session streams envelopes after `after`.
struct SseStart {
    std::int64_t after = 0;
    // Notifications only: `id: <position>` and `data: {"position", "type"}` without the event, for
    // roles that may not read raw events (dashboards re-fetch their views on each notification).
    bool notify_only = false;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    ChunkSource stream;           // when set, the body is streamed in chunks instead of `body`
    std::optional<SseStart> sse;  // when set, the connection turns into an event stream
    std::string subject;          // the authenticated subject, for the access log ("" when none)
};

} // namespace gridloop::http

// The HTTP API v1 without sockets: routing, authentication, handlers and JSON, over the engine.
#pragma once

#include "engine/engine.hpp"
#include "http/auth.hpp"
#include "http/message.hpp"

#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace gridloop::http {

// Fans committed envelopes out to event-stream subscribers (called on the writer thread).
class Hub {
public:
    using Sink = std::function<void(const std::vector<events::RawEnvelope>&)>;
    // Returns a handle; the sink is called for every commit until unsubscribe.
    std::uint64_t subscribe(Sink sink);
    void unsubscribe(std::uint64_t id);
    std::size_t size() const;
    void publish(const std::vector<events::RawEnvelope>& rows);

private:
    mutable std::mutex mutex_;
    std::map<std::uint64_t, Sink> sinks_;
    std::uint64_t next_ = 1;
};

// Request counters by route and status, for /metrics.
class RequestStats {
public:
    void count(const std::string& route, int status);
    std::map<std::pair<std::string, int>, std::uint64_t> snapshot() const;
    std::atomic<std::int64_t> connections{0}, refused_connections{0};

private:
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, int>, std::uint64_t> counts_;
};

class Api {
public:
    struct Options {
        std::size_t max_batch = 1000;       // events per POST
        std::size_t max_page = 1000;        // items per list page
        std::size_t as_of_cache = 4;        // folded past models kept, at most
        // ... and only while their cases add up to at most this (each case is about a kilobyte of
        // model); the model just built is always kept.
        std::size_t as_of_cache_cases = 2'000'000;
    };
    Api(engine::Engine& engine, std::shared_ptr<Authenticator> auth, Options options);
    Api(engine::Engine& engine, std::shared_ptr<Authenticator> auth) : Api(engine, std::move(auth), Options{}) {}
    ~Api();

    // Handles one request; `done` is called exactly once, possibly later on the engine's completion thread.
    void handle(const Request& req, std::function<void(Response)> done);
    // The same, waiting for the answer (tests, tools).
    Response handle_now(const Request& req);

    Hub& hub() { return hub_; }
    RequestStats& stats() { return stats_; }
    engine::Engine& engine() { return engine_; }
    // The route a request matched ("GET /v1/cases/{id}"), for logs and metrics.
    static std::string route_of(const Request& req);

    struct Impl;

private:
    engine::Engine& engine_;
    std::shared_ptr<Authenticator> auth_;
    Options options_;
    Hub hub_;
    RequestStats stats_;
    std::unique_ptr<Impl> impl_;
};

// A problem+json response (RFC 9457).
// A 503 (the log cannot be read or written, or a past view is being folded) carries `Retry-After: 5`.
Response problem(int status, const std::string& detail, const std::string& instance = {});
// The Retry-After of those 503s: a full disk may need an operator, a fold takes seconds, and every
// retry with the same event_id is safe, so clients are asked to wait a few seconds.
inline constexpr const char* retry_after_503 = "5";
int status_of(events::errc code);

// Splits "a=1&b=x%20y" into decoded pairs; nullopt when percent-encoding is malformed.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

} // namespace gridloop::http

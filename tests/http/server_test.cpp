// The real server on a loopback port: the closed loop over the wire, SSE catch-up then live, NDJSON,
// concurrent posters, retries, limits, slow and abusive clients, the connection cap and shutdown.
#include "http/server.hpp"
#include "tests/support/engine_fixture.hpp"
#include "tests/support/http_client.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

using namespace gridloop;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::Connection;
using testing::deadline_in;
using testing::EngineFixture;
using testing::HttpResponse;

namespace {

const std::string admin = "server-admin-token-0001";
const std::string worker = "server-worker-token-001";

const char* const tokens_text = R"([
  {"token": "server-admin-token-0001", "subject": "root", "role": "admin"},
  {"token": "server-worker-token-001", "subject": "p-017", "role": "worker", "scope": ["m1"]}
])";

using Headers = std::vector<std::pair<std::string, std::string>>;

json report(const std::string& id, const std::string& grid = "m1") {
    return EngineFixture::ev("IssueReported",
                             {{"case_id", id}, {"category", "noise"}, {"description", "夜间噪音"}, {"source", "hotline"}, {"grid_id", grid}});
}

http::ServerOptions quick_options() {
    http::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.read_timeout = 3s;
    o.idle_timeout = 5s;
    o.write_timeout = 5s;
    o.heartbeat = 10s;
    return o;
}

struct ServerFixture : EngineFixture {
    std::shared_ptr<http::Authenticator> auth = std::make_shared<http::Authenticator>(http::Tokens::parse(tokens_text));
    std::unique_ptr<http::Api> api = std::make_unique<http::Api>(*engine, auth);
    std::unique_ptr<http::Server> server;
    unsigned short port = 0;

    explicit ServerFixture(http::ServerOptions o = quick_options()) {
        small_town();
        server = std::make_unique<http::Server>(*api, std::move(o));
        server->start();
        port = server->port();
    }
    ~ServerFixture() {
        server.reset(); // joins the server's threads before the API and the engine go
        api.reset();
    }

    HttpResponse call(const std::string& method, const std::string& target, const std::string& body = {}, const std::string& token = admin,
                      Headers headers = {}) {
        if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
        auto r = testing::fetch(port, method, target, body, headers);
        REQUIRE_MESSAGE(r.has_value(), "no whole response to " << method << " " << target);
        return *r;
    }
    HttpResponse post(const json& body, const std::string& token = admin) { return call("POST", "/v1/events", body.dump(), token); }
    json get_json(const std::string& target) {
        const auto r = call("GET", target);
        INFO(target << " → " << r.body);
        REQUIRE(r.status == 200);
        return json::parse(r.body);
    }
    std::int64_t head() { return get_json("/v1/audit/head").at("position").get<std::int64_t>(); }
    bool healthy() {
        try {
            auto r = testing::fetch(port, "GET", "/healthz", {}, {}, 3s);
            return r && r->status == 200;
        } catch (const std::exception&) {
            return false;
        }
    }
    // Polls /metrics until `line` appears.
    bool metrics_show(const std::string& line, std::chrono::milliseconds within = 5s) {
        const auto until = deadline_in(within);
        while (std::chrono::steady_clock::now() < until) {
            auto r = testing::fetch(port, "GET", "/metrics");
            if (r && r->body.find(line) != std::string::npos) return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }
};

void check_problem(const HttpResponse& r, int status) {
    INFO(r.status_line << " " << r.body);
    CHECK(r.status == status);
    CHECK(r.header("content-type") == "application/problem+json");
    const json j = json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j.value("status", 0) == status);
    CHECK(!j.value("detail", std::string()).empty());
}

// Opens an event stream and reads its headers.
Connection open_sse(unsigned short port, const std::string& target, Headers extra = {}) {
    Connection c(port);
    extra.emplace_back("Authorization", "Bearer " + admin);
    extra.emplace_back("Accept", "text/event-stream");
    REQUIRE(c.send(testing::request_text("GET", target, {}, extra)));
    auto head = c.read_head(deadline_in(5s));
    REQUIRE(head.has_value());
    CHECK(head->status == 200);
    CHECK(head->header("content-type").rfind("text/event-stream", 0) == 0);
    CHECK(head->chunked);
    return c;
}

// Reads event messages (skipping comments and the retry hint) until the one with id `last`.
std::vector<std::int64_t> read_ids_until(Connection& c, std::int64_t last, std::chrono::milliseconds within = 20s) {
    std::vector<std::int64_t> ids;
    const auto until = deadline_in(within);
    while (ids.empty() || ids.back() < last) {
        auto m = c.read_sse(until);
        if (!m) break;
        if (m->id.empty()) continue;
        const auto id = std::stoll(m->id);
        const json e = json::parse(m->data, nullptr, false);
        CHECK(e.is_object());
        if (e.is_object()) CHECK(e.value("position", std::int64_t{-1}) == id);
        ids.push_back(id);
    }
    return ids;
}

void check_consecutive(const std::vector<std::int64_t>& ids, std::int64_t first, std::int64_t last) {
    REQUIRE_MESSAGE(!ids.empty(), "no events");
    CHECK(ids.front() == first);
    CHECK(ids.back() == last);
    for (std::size_t i = 1; i < ids.size(); ++i)
        if (ids[i] != ids[i - 1] + 1) {
            FAIL_CHECK("ids jump from " << ids[i - 1] << " to " << ids[i]);
            break;
        }
}

} // namespace

TEST_SUITE("http") {

TEST_CASE("server: one case through the whole loop over the wire") {
    ServerFixture f;
    struct Step {
        json event;
        std::string token, state, rung;
        int round;
    };
    auto ev = [](const char* type, json data) {
        data["case_id"] = "c-0001";
        return EngineFixture::ev(type, std::move(data));
    };
    const std::vector<Step> steps{
        {report("c-0001"), worker, "open", "worker", 1},
        {ev("IssueDiscussed", {{"participants", {"p-017", "p-018"}}, {"teams", {"work"}}, {"decision", "上报微网格长"}}), worker, "open", "worker", 1},
        {ev("IssueEscalated", {{"to_rung", "micro_head"}, {"reason", "需要协调"}, {"auto", false}}), worker, "open", "micro_head", 1},
        {ev("IssueHandled", {{"handler", "p-020"}, {"result", "已清理"}}), admin, "handled", "micro_head", 1},
        {ev("FeedbackGiven", {{"to", "居民"}, {"content", "已处理"}}), admin, "fed_back", "micro_head", 1},
        {ev("SatisfactionRated", {{"rating", "unsatisfied"}, {"solved", "no"}, {"rater", "居民"}}), admin, "open", "micro_head", 2},
        {ev("IssueHandled", {{"handler", "p-020"}, {"result", "再次清理"}}), admin, "handled", "micro_head", 2},
        {ev("FeedbackGiven", {{"to", "居民"}, {"content", "已再次处理"}}), admin, "fed_back", "micro_head", 2},
        {ev("SatisfactionRated", {{"rating", "satisfied"}, {"solved", "yes"}, {"rater", "居民"}}), admin, "closed", "micro_head", 2},
    };
    const auto h0 = f.head();
    std::vector<std::string> types;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const auto& s = steps[i];
        CAPTURE(i);
        const auto r = f.post(s.event, s.token);
        INFO(r.body);
        REQUIRE(r.status == 201);
        const json e = json::parse(r.body);
        CHECK(e.at("version") == static_cast<std::int64_t>(i + 1));
        CHECK(e.at("position") == h0 + static_cast<std::int64_t>(i + 1));
        CHECK(e.at("actor") == (s.token == worker ? "p-017" : "root"));
        types.push_back(s.event.at("type"));
        const json k = f.get_json("/v1/cases/c-0001");
        CHECK(k.at("state") == s.state);
        CHECK(k.at("rung") == s.rung);
        CHECK(k.at("round") == s.round);
    }
    const json k = f.get_json("/v1/cases/c-0001");
    CHECK(k.at("case_id") == "c-0001");
    CHECK(k.at("grid_id") == "m1");
    CHECK(k.at("dept_id").is_null());
    CHECK(k.at("due_at").is_null());
    CHECK(k.at("overdue") == false);
    CHECK(k.at("returns") == 0);
    CHECK(k.at("rating") == "satisfied");
    CHECK(k.at("solved") == "yes");
    REQUIRE(k.at("timeline").size() == steps.size());
    for (std::size_t i = 0; i < steps.size(); ++i) {
        CHECK(k["timeline"][i].at("type") == types[i]);
        CHECK(k["timeline"][i].at("state") == steps[i].state);
    }
    const json stats = f.get_json("/v1/grids/m1/stats");
    CHECK(stats.at("reported") == 1);
    CHECK(stats.at("closed") == 1);
    // Closed means closed: one more event is a 409 and changes nothing.
    const auto r = f.post(EngineFixture::ev("IssueHandled", {{"case_id", "c-0001"}, {"handler", "x"}, {"result", "again"}}));
    check_problem(r, 409);
    CHECK(f.get_json("/v1/cases/c-0001") == k);
    CHECK(f.get_json("/v1/streams/case-c-0001").at("version") == static_cast<std::int64_t>(steps.size()));
}

TEST_CASE("server: refusals over the wire are problem+json and append nothing") {
    ServerFixture f;
    const auto h = f.head();
    check_problem(f.call("POST", "/v1/events", "{"), 400);
    check_problem(f.call("POST", "/v1/events", std::string(R"({"type":"IssueReported","data":{"description":")") + "\xff\xfe" + "\"}}"), 400);
    json unknown = report("a");
    unknown["data"]["colour"] = "red";
    auto r = f.post(unknown);
    check_problem(r, 422);
    CHECK(r.body.find("colour") != std::string::npos);
    check_problem(f.post(report("a", "nowhere")), 422);
    check_problem(f.post(EngineFixture::ev("IssueHandled", {{"case_id", "ghost"}, {"handler", "x"}, {"result", "y"}})), 409);
    check_problem(f.call("GET", "/v1/cases/ghost"), 404);
    r = f.call("DELETE", "/v1/cases/ghost");
    check_problem(r, 405);
    CHECK(r.header("allow") == "GET");
    r = f.call("GET", "/v1/cases", {}, "");
    check_problem(r, 401);
    CHECK(r.header("www-authenticate").rfind("Bearer", 0) == 0);
    CHECK(f.head() == h);
}

TEST_CASE("server: read your writes and idempotent retry over the wire") {
    ServerFixture f;
    json e = report("c-r1");
    e["event_id"] = "phone-3-000017";
    const auto first = f.post(e);
    REQUIRE(first.status == 201);
    CHECK(f.get_json("/v1/cases/c-r1").at("state") == "open");
    CHECK(f.get_json("/v1/grids/m1/stats").at("reported") == 1);
    // The phone lost the answer and sends again, on a new connection.
    const auto again = f.post(e);
    CHECK(again.status == 200);
    CHECK(again.body == first.body);
    // Two retries racing each other: one stored event, both answers the original.
    std::vector<std::future<HttpResponse>> racing;
    for (int i = 0; i < 4; ++i) racing.push_back(std::async(std::launch::async, [&] { return *testing::fetch(f.port, "POST", "/v1/events", e.dump(), {{"Authorization", "Bearer " + admin}}); }));
    for (auto& x : racing) {
        const auto r = x.get();
        CHECK(r.status == 200);
        CHECK(r.body == first.body);
    }
    e["data"]["description"] = "changed";
    check_problem(f.post(e), 409);
    CHECK(f.get_json("/v1/streams/case-c-r1").at("events").size() == 1);
}

TEST_CASE("server: SSE catch-up then live, no event missed or repeated across the switch") {
    ServerFixture f;
    json batch = json::array();
    for (int i = 0; i < 40; ++i) batch.push_back(report("pre-" + std::to_string(i)));
    REQUIRE(f.post(json{{"events", batch}}).status == 201);
    const auto h0 = f.head();
    REQUIRE(h0 == 49);

    // Plain: catch up from K, then go live.
    {
        auto c = open_sse(f.port, "/v1/subscribe?after=20");
        check_consecutive(read_ids_until(c, h0), 21, h0);
        for (int i = 0; i < 5; ++i) REQUIRE(f.post(report("live-" + std::to_string(i))).status == 201);
        check_consecutive(read_ids_until(c, h0 + 5), h0 + 1, h0 + 5);
    }
    // Racing: events are committed while the subscription is being set up and caught up.
    for (int round = 0; round < 6; ++round) {
        CAPTURE(round);
        const auto start = f.head();
        const int n = 40;
        std::atomic<bool> go{false};
        auto poster = std::async(std::launch::async, [&] {
            Connection c(f.port);
            while (!go) std::this_thread::yield();
            int ok = 0;
            for (int i = 0; i < n; ++i) {
                if (!c.send(testing::request_text("POST", "/v1/events", report("r" + std::to_string(round) + "-" + std::to_string(i)).dump(),
                                                  {{"Authorization", "Bearer " + admin}})))
                    break;
                auto r = c.read_response();
                if (!r || r->status != 201) break;
                ++ok;
            }
            return ok;
        });
        const std::int64_t after = start - 10 * round;
        go = true;
        auto c = open_sse(f.port, "/v1/subscribe?after=" + std::to_string(after));
        REQUIRE(poster.get() == n);
        check_consecutive(read_ids_until(c, start + n), after + 1, start + n);
    }
    // Many short subscriptions while several posters keep committing: every one must be gapless.
    {
        std::atomic<bool> stop{false};
        std::vector<std::future<void>> posters;
        for (int t = 0; t < 4; ++t)
            posters.push_back(std::async(std::launch::async, [&, t] {
                Connection c(f.port);
                for (int i = 0; !stop; ++i) {
                    if (!c.send(testing::request_text("POST", "/v1/events", report("x" + std::to_string(t) + "-" + std::to_string(i)).dump(),
                                                      {{"Authorization", "Bearer " + admin}})))
                        return;
                    auto r = c.read_response();
                    if (!r || r->status != 201) return;
                }
            }));
        for (int round = 0; round < 40; ++round) {
            CAPTURE(round);
            const std::int64_t after = std::max<std::int64_t>(0, f.head() - 3);
            auto c = open_sse(f.port, "/v1/subscribe?after=" + std::to_string(after));
            check_consecutive(read_ids_until(c, after + 12, 10s), after + 1, after + 12);
        }
        stop = true;
        for (auto& p : posters) p.get();
    }
    // Resumption: Last-Event-ID wins over after.
    {
        auto c = open_sse(f.port, "/v1/subscribe?after=2", {{"Last-Event-ID", "30"}});
        const auto h = f.head();
        check_consecutive(read_ids_until(c, h), 31, h);
    }
    // A malformed Last-Event-ID is refused.
    {
        Connection c(f.port);
        REQUIRE(c.send(testing::request_text("GET", "/v1/subscribe", {}, {{"Authorization", "Bearer " + admin}, {"Last-Event-ID", "x1"}})));
        auto r = c.read_response(deadline_in(5s));
        REQUIRE(r.has_value());
        check_problem(*r, 400);
    }
}

TEST_CASE("server: SSE heartbeats while idle, and the subscribers gauge") {
    auto o = quick_options();
    o.heartbeat = 100ms;
    ServerFixture f(o);
    CHECK(f.metrics_show("gridloop_subscribers 0\n"));
    {
        auto c = open_sse(f.port, "/v1/subscribe?after=" + std::to_string(f.head()));
        CHECK(f.metrics_show("gridloop_subscribers 1\n"));
        const auto until = deadline_in(5s);
        bool retry = false, heartbeat = false;
        while (!heartbeat) {
            auto m = c.read_sse(until);
            REQUIRE_MESSAGE(m.has_value(), "no heartbeat within 5 s");
            CHECK(m->id.empty()); // nothing happened, so no event
            retry = retry || !m->retry.empty();
            heartbeat = m->comment.find("heartbeat") != std::string::npos;
        }
        CHECK(retry);
        // Live events still flow between heartbeats.
        REQUIRE(f.post(report("hb")).status == 201);
        check_consecutive(read_ids_until(c, f.head(), 5s), f.head(), f.head());
    }
    // A subscriber that went away is noticed (by the next heartbeat) and unsubscribed.
    CHECK(f.metrics_show("gridloop_subscribers 0\n"));
}

TEST_CASE("server: NDJSON streaming of /v1/events") {
    ServerFixture f;
    for (int b = 0; b < 3; ++b) {
        json batch = json::array();
        for (int i = 0; i < 800; ++i) batch.push_back(report("n-" + std::to_string(b) + "-" + std::to_string(i)));
        REQUIRE(f.post(json{{"events", batch}}).status == 201);
    }
    const auto h = f.head();
    REQUIRE(h == 2409);
    auto lines_of = [](const std::string& body) {
        std::vector<json> out;
        std::size_t pos = 0;
        while (pos < body.size()) {
            auto nl = body.find('\n', pos);
            REQUIRE(nl != std::string::npos); // every line ends with a newline
            out.push_back(json::parse(body.substr(pos, nl - pos)));
            pos = nl + 1;
        }
        return out;
    };
    auto r = f.call("GET", "/v1/events", {}, admin, {{"Accept", "application/x-ndjson"}});
    REQUIRE(r.status == 200);
    CHECK(r.chunked);
    CHECK(r.header("content-type") == "application/x-ndjson");
    auto lines = lines_of(r.body);
    REQUIRE(lines.size() == static_cast<std::size_t>(h));
    for (std::int64_t i = 0; i < h; ++i) CHECK(lines[static_cast<std::size_t>(i)].at("position") == i + 1);
    r = f.call("GET", "/v1/events?after=100&limit=50", {}, admin, {{"Accept", "application/x-ndjson"}});
    REQUIRE(r.status == 200);
    lines = lines_of(r.body);
    REQUIRE(lines.size() == 50);
    CHECK(lines.front().at("position") == 101);
    CHECK(lines.back().at("position") == 150);
    r = f.call("GET", "/v1/events?as_of=9", {}, admin, {{"Accept", "application/x-ndjson"}});
    CHECK(lines_of(r.body).size() == 9);
    // Keep-alive: a streamed answer followed by another request on the same connection.
    Connection c(f.port);
    REQUIRE(c.send(testing::request_text("GET", "/v1/events?after=2400", {}, {{"Authorization", "Bearer " + admin}, {"Accept", "application/x-ndjson"}})));
    auto first = c.read_response();
    REQUIRE(first.has_value());
    CHECK(lines_of(first->body).size() == 9);
    REQUIRE(c.send(testing::request_text("GET", "/healthz")));
    auto second = c.read_response();
    REQUIRE(second.has_value());
    CHECK(second->status == 200);
}

TEST_CASE("server: a stream cut by shutdown never looks complete") {
    ServerFixture f;
    for (int b = 0; b < 5; ++b) {
        json batch = json::array();
        for (int i = 0; i < 1000; ++i) batch.push_back(report("s-" + std::to_string(b) + "-" + std::to_string(i)));
        REQUIRE(f.post(json{{"events", batch}}).status == 201);
    }
    const auto h = f.head();
    Connection c(f.port);
    REQUIRE(c.send(testing::request_text("GET", "/v1/events", {}, {{"Authorization", "Bearer " + admin}, {"Accept", "application/x-ndjson"}})));
    auto head = c.read_head(deadline_in(5s));
    REQUIRE(head.has_value());
    auto chunk = c.read_chunk(deadline_in(5s));
    REQUIRE(chunk.has_value());
    // The server stops while the client has not read the rest.
    f.server->stop();
    std::string body = *chunk;
    bool complete = false;
    const auto until = deadline_in(10s);
    for (;;) {
        auto next = c.read_chunk(until);
        if (!next) break;
        if (next->empty()) {
            complete = true;
            break;
        }
        body += *next;
    }
    const auto lines = static_cast<std::int64_t>(std::count(body.begin(), body.end(), '\n'));
    if (complete) CHECK_MESSAGE(lines == h, "a stream ended with the last chunk after " << lines << " of " << h << " lines");
    else CHECK(lines <= h);
}

TEST_CASE("server: concurrent posters all get 201 with unique, gapless positions") {
    ServerFixture f;
    const auto h0 = f.head();
    const int threads = 8, per_thread = 50;
    std::vector<std::future<std::vector<std::int64_t>>> posters;
    for (int t = 0; t < threads; ++t)
        posters.push_back(std::async(std::launch::async, [&f, t] {
            std::vector<std::int64_t> positions;
            Connection c(f.port); // keep-alive: one connection per poster
            for (int i = 0; i < per_thread; ++i) {
                const std::string body = report("t" + std::to_string(t) + "-" + std::to_string(i), i % 2 ? "m1" : "m2").dump();
                if (!c.send(testing::request_text("POST", "/v1/events", body, {{"Authorization", "Bearer " + admin}}))) break;
                auto r = c.read_response();
                if (!r || r->status != 201) break;
                positions.push_back(json::parse(r->body).at("position").get<std::int64_t>());
            }
            return positions;
        }));
    std::vector<std::int64_t> all;
    for (auto& p : posters) {
        auto v = p.get();
        CHECK(v.size() == static_cast<std::size_t>(per_thread));
        CHECK(std::is_sorted(v.begin(), v.end()));
        all.insert(all.end(), v.begin(), v.end());
    }
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == static_cast<std::size_t>(threads * per_thread));
    for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i] == h0 + 1 + static_cast<std::int64_t>(i));
    CHECK(f.head() == h0 + threads * per_thread);
    const json verify = f.get_json("/v1/audit/verify");
    CHECK(verify.at("ok") == true);
    CHECK(verify.at("checked") == h0 + threads * per_thread);
    CHECK(f.get_json("/v1/cases?limit=1000").at("cases").size() == static_cast<std::size_t>(threads * per_thread));
}

TEST_CASE("server: 413 for a 2 MiB body, 431 for 64 KiB of headers, and the server goes on") {
    ServerFixture f;
    const auto h = f.head();
    auto oversized = [&](const std::string& request) {
        Connection c(f.port);
        // Send on another thread: the server answers before it has read everything.
        auto sender = std::async(std::launch::async, [&] { return c.send(request, deadline_in(10s)); });
        auto r = c.read_response(deadline_in(10s));
        sender.wait();
        return r;
    };
    const std::string body(2 << 20, 'x');
    auto r = oversized(testing::request_text("POST", "/v1/events", body, {{"Authorization", "Bearer " + admin}}));
    REQUIRE_MESSAGE(r.has_value(), "no 413 answer");
    check_problem(*r, 413);
    r = oversized("GET /healthz HTTP/1.1\r\nHost: a\r\nX-Filler: " + std::string(64 << 10, 'a') + "\r\n\r\n");
    REQUIRE_MESSAGE(r.has_value(), "no 431 answer");
    check_problem(*r, 431);
    // Many small headers adding up past the limit.
    std::string many = "GET /healthz HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 2000; ++i) many += "X-H" + std::to_string(i) + ": " + std::string(30, 'b') + "\r\n";
    r = oversized(many + "\r\n");
    REQUIRE(r.has_value());
    check_problem(*r, 431);
    // Just under the body limit is parsed (and refused as JSON, not as size).
    const auto near = f.call("POST", "/v1/events", std::string((1 << 20) - 10, ' ') + "{}");
    check_problem(near, 400);
    CHECK(f.head() == h);
    CHECK(f.healthy());
}

TEST_CASE("server: a client that stalls is cut off after the read timeout while others are served") {
    auto o = quick_options();
    o.read_timeout = 300ms;
    o.idle_timeout = 600ms;
    ServerFixture f(o);
    const std::vector<std::string> stalls{
        "",                                                                              // connects, says nothing
        "GET /healthz HTTP/1.1\r\nHost:",                                                // half a header
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"type\"", // half a body
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"typ",
    };
    for (const auto& bytes : stalls) {
        CAPTURE(bytes);
        Connection stalled(f.port);
        const auto t0 = std::chrono::steady_clock::now();
        if (!bytes.empty()) REQUIRE(stalled.send(bytes));
        // Served while the other one stalls.
        const auto r = testing::fetch(f.port, "GET", "/healthz", {}, {}, 2s);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(stalled.closed_by_peer(deadline_in(5s)));
        const auto took = std::chrono::steady_clock::now() - t0;
        CHECK(took >= 250ms);
        CHECK(took < 3s);
    }
    // A slow trickle does not extend the deadline forever.
    {
        Connection trickle(f.port);
        const auto t0 = std::chrono::steady_clock::now();
        const std::string req = "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: " + std::string(200, 'z');
        bool cut = false;
        for (char ch : req) {
            if (!trickle.send(std::string(1, ch))) {
                cut = true;
                break;
            }
            if (trickle.closed_by_peer(deadline_in(20ms))) {
                cut = true;
                break;
            }
        }
        CHECK(cut);
        CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    }
    // An idle keep-alive connection is closed after the idle timeout.
    {
        Connection idle(f.port);
        REQUIRE(idle.send(testing::request_text("GET", "/healthz")));
        auto r = idle.read_response(deadline_in(2s));
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(idle.closed_by_peer(deadline_in(5s)));
    }
    CHECK(f.healthy());
}

TEST_CASE("server: over the connection cap a new connection gets 503, and service resumes once they close") {
    auto o = quick_options();
    o.max_connections = 3;
    ServerFixture f(o);
    std::vector<Connection> held;
    for (int i = 0; i < 3; ++i) {
        held.emplace_back(f.port);
        REQUIRE(held.back().send(testing::request_text("GET", "/healthz")));
        auto r = held.back().read_response(deadline_in(5s));
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
    for (int i = 0; i < 3; ++i) {
        Connection extra(f.port);
        auto r = extra.read_response(deadline_in(5s));
        if (r) {
            check_problem(*r, 503);
            CHECK(r->header("content-length") == std::to_string(r->body.size()));
        } else {
            CHECK_MESSAGE(extra.pending().empty(), "a partial answer over the cap: " << extra.pending());
            CHECK(extra.eof());
        }
    }
    // A client that sends its request at once still gets a clean answer or a clean close.
    {
        Connection extra(f.port);
        extra.send(testing::request_text("GET", "/healthz"));
        auto r = extra.read_response(deadline_in(5s));
        if (r) CHECK(r->status == 503);
        else CHECK(extra.eof());
    }
    held.clear();
    const auto until = deadline_in(5s);
    bool served = false;
    while (!served && std::chrono::steady_clock::now() < until) {
        served = f.healthy();
        if (!served) std::this_thread::sleep_for(20ms);
    }
    CHECK(served);
    const auto m = testing::fetch(f.port, "GET", "/metrics");
    REQUIRE(m.has_value());
    const auto at = m->body.find("\ngridloop_refused_connections_total ");
    REQUIRE(at != std::string::npos);
    CHECK(std::stoll(m->body.substr(at + 36)) >= 4);
}

TEST_CASE("server: garbage, invalid bytes and malformed requests → 400, and the server survives") {
    ServerFixture f;
    const std::vector<std::string> garbage{
        "GARBAGE\r\n\r\n",
        "\xff\xfe\xfd\xfc\r\n\r\n",
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(100, '\0') + "\r\n\r\n", // a TLS hello
        "GET / HTTP/9.9\r\nHost: a\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nBad Header Line\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Bin: \x01\x02\r\n\r\n",
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET\r\n\r\n",
    };
    for (const auto& bytes : garbage) {
        CAPTURE(bytes);
        Connection c(f.port);
        REQUIRE(c.send(bytes));
        auto r = c.read_response(deadline_in(5s));
        if (r) {
            CHECK(r->status >= 400);
            CHECK(r->status < 500);
            CHECK(r->header("connection") == "close");
        } else {
            CHECK_MESSAGE(c.eof(), "neither an answer nor a close");
        }
        CHECK(f.healthy());
    }
    // The plain garbage request line gets a real 400 problem.
    {
        Connection c(f.port);
        REQUIRE(c.send("GARBAGE\r\n\r\n"));
        auto r = c.read_response(deadline_in(5s));
        REQUIRE(r.has_value());
        check_problem(*r, 400);
    }
    // Two pipelined requests get two answers in order.
    Connection c(f.port);
    REQUIRE(c.send(testing::request_text("GET", "/healthz") + testing::request_text("GET", "/nope")));
    auto a = c.read_response(deadline_in(5s));
    auto b = c.read_response(deadline_in(5s));
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(a->status == 200);
    CHECK(b->status == 404);
    // A HEAD answer has the headers of the GET and no body.
    Connection h(f.port);
    REQUIRE(h.send(testing::request_text("HEAD", "/healthz") + testing::request_text("GET", "/healthz")));
    auto ha = h.read_response(deadline_in(5s), true);
    REQUIRE(ha.has_value());
    CHECK(ha->status == 200);
    auto hb = h.read_response(deadline_in(5s));
    REQUIRE(hb.has_value());
    CHECK(hb->status == 200);
    CHECK(hb->body.find("\"status\":\"ok\"") != std::string::npos);
    // HEAD on the streaming endpoints sends headers only, so the next answer on the connection is intact.
    for (const std::string target : {"/v1/events", "/v1/subscribe?after=0"}) {
        CAPTURE(target);
        Connection k(f.port);
        REQUIRE(k.send(testing::request_text("HEAD", target, {}, {{"Authorization", "Bearer " + admin}, {"Accept", "application/x-ndjson"}}) +
                       testing::request_text("GET", "/healthz")));
        auto first = k.read_response(deadline_in(5s), true);
        REQUIRE(first.has_value());
        CHECK(first->status == 200);
        auto next = k.read_response(deadline_in(5s));
        REQUIRE(next.has_value());
        CHECK(next->status == 200);
        CHECK(next->body.find("\"status\":\"ok\"") != std::string::npos);
    }
    // HTTP/1.0 is answered in HTTP/1.0: closed after the answer unless the client asks to keep it,
    // kept (and said so) when asked. An HTTP/1.1 client that says close is told close, then closed.
    {
        Connection once(f.port);
        REQUIRE(once.send("GET /healthz HTTP/1.0\r\n\r\n"));
        auto r = once.read_response(deadline_in(5s));
        REQUIRE(r.has_value());
        CHECK(r->status_line == "HTTP/1.0 200 OK");
        CHECK(r->header("content-length") == std::to_string(r->body.size()));
        CHECK(r->header("connection").empty());
        CHECK_FALSE(once.read_response(deadline_in(5s)).has_value());
        CHECK(once.eof());
        Connection kept(f.port);
        const std::string keep = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        REQUIRE(kept.send(keep + keep));
        for (int i = 0; i < 2; ++i) {
            auto k = kept.read_response(deadline_in(5s));
            REQUIRE(k.has_value());
            CHECK(k->status_line == "HTTP/1.0 200 OK");
            CHECK(k->header("connection") == "keep-alive");
            CHECK(k->body.find("\"status\":\"ok\"") != std::string::npos);
        }
        Connection closing(f.port);
        REQUIRE(closing.send(testing::request_text("GET", "/nope", {}, {}, false)));
        auto c404 = closing.read_response(deadline_in(5s));
        REQUIRE(c404.has_value());
        CHECK(c404->status_line == "HTTP/1.1 404 Not Found");
        CHECK(c404->header("connection") == "close");
        CHECK(c404->header("content-type") == "application/problem+json");
        CHECK_FALSE(closing.read_response(deadline_in(5s)).has_value());
        CHECK(closing.eof());
        // A stream to HTTP/1.0, which has no chunks: the same bytes as HTTP/1.1's chunks carry, then
        // the close that ends them.
        const std::vector<std::pair<std::string, std::string>> ndjson{{"Authorization", "Bearer " + admin}, {"Accept", "application/x-ndjson"}};
        auto chunked = testing::fetch(f.port, "GET", "/v1/events", {}, ndjson);
        REQUIRE(chunked.has_value());
        REQUIRE(chunked->header("transfer-encoding") == "chunked");
        CHECK(chunked->body.find("\"position\":1,") != std::string::npos);
        Connection old(f.port);
        REQUIRE(old.send("GET /v1/events HTTP/1.0\r\nAuthorization: Bearer " + admin + "\r\nAccept: application/x-ndjson\r\n\r\n"));
        auto plain = old.read_response(deadline_in(5s));
        REQUIRE(plain.has_value());
        CHECK(plain->status_line == "HTTP/1.0 200 OK");
        CHECK(plain->header("transfer-encoding").empty());
        CHECK(plain->header("content-length").empty());
        CHECK(plain->body == chunked->body);
        CHECK(old.eof());
    }
    // A request target far beyond the header limit.
    Connection l(f.port);
    REQUIRE(l.send("GET /v1/cases/" + std::string(40000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto long_target = l.read_response(deadline_in(5s));
    if (long_target) CHECK(long_target->status / 100 == 4);
    else CHECK(l.eof());
    CHECK(f.healthy());
}

TEST_CASE("server: stop() returns promptly with an event stream, a stalled client, an idle connection and a deaf reader open") {
    auto o = quick_options();
    o.heartbeat = 10s;
    o.read_timeout = 10s;
    o.idle_timeout = 10s;
    o.write_timeout = 10s;
    ServerFixture f(o);
    auto sse = open_sse(f.port, "/v1/subscribe?after=0");
    check_consecutive(read_ids_until(sse, 9), 1, 9);
    Connection stalled(f.port);
    REQUIRE(stalled.send("POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{"));
    Connection idle(f.port);
    REQUIRE(idle.send(testing::request_text("GET", "/healthz")));
    REQUIRE(idle.read_response(deadline_in(5s)).has_value());
    // A client that asks for a long NDJSON stream and reads none of it.
    for (int b = 0; b < 20; ++b) {
        json batch = json::array();
        for (int i = 0; i < 1000; ++i) batch.push_back(report("q-" + std::to_string(b) + "-" + std::to_string(i)));
        REQUIRE(f.post(json{{"events", batch}}).status == 201);
    }
    Connection deaf(f.port, 4096);
    REQUIRE(deaf.send(testing::request_text("GET", "/v1/events", {}, {{"Authorization", "Bearer " + admin}, {"Accept", "application/x-ndjson"}})));
    REQUIRE(deaf.read_head(deadline_in(5s)).has_value());
    std::this_thread::sleep_for(200ms); // the server fills the socket buffers and its write then waits on the client
    const auto t0 = std::chrono::steady_clock::now();
    auto stopping = std::async(std::launch::async, [&] { f.server.reset(); });
    REQUIRE_MESSAGE(stopping.wait_for(15s) == std::future_status::ready, "the server did not stop");
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(sse.closed_by_peer(deadline_in(2s)));
    CHECK(stalled.closed_by_peer(deadline_in(2s)));
    CHECK(idle.closed_by_peer(deadline_in(2s)));
}

} // TEST_SUITE

TEST_CASE("server: SSE for a role without raw access, token in the query: positions and types, no event data") {
    std::ostringstream log;
    auto options = quick_options();
    options.access_log = &log;
    ServerFixture f(options);
    REQUIRE(f.post(report("n-1")).status == 201);
    const auto h0 = f.head();
    Connection c(f.port);
    // EventSource sends no Authorization header: the token rides in the query, on /v1/subscribe only.
    REQUIRE(c.send(testing::request_text("GET", "/v1/subscribe?after=" + std::to_string(h0 - 1) + "&access_token=" + worker, {},
                                         {{"Accept", "text/event-stream"}})));
    auto head = c.read_head(deadline_in(5s));
    REQUIRE(head.has_value());
    CHECK(head->status == 200);
    REQUIRE(f.post(report("n-2")).status == 201);
    std::vector<std::int64_t> ids;
    const auto until = deadline_in(10s);
    while (ids.size() < 2) {
        auto m = c.read_sse(until);
        REQUIRE(m.has_value());
        if (m->id.empty()) continue;
        ids.push_back(std::stoll(m->id));
        const json e = json::parse(m->data);
        CHECK(e == json{{"position", ids.back()}, {"type", "IssueReported"}}); // no data, actor, stream or hash
    }
    CHECK(ids == std::vector<std::int64_t>{h0, h0 + 1});
    // The page's kiosk ?token= and the stream's ?access_token= stay out of the access log.
    {
        Connection page(f.port);
        REQUIRE(page.send(testing::request_text("GET", "/?lang=en&token=" + worker, {}, {})));
        REQUIRE(page.read_response());
        REQUIRE(page.send(testing::request_text("GET", "/v1/subscribe?access_token=" + worker + "&after=x", {}, {})));
        REQUIRE(page.read_response()); // 400: a subscription that ends at once, so its line is logged
        REQUIRE(page.send(testing::request_text("GET", "/open311/v2/requests.json?api_key=" + worker, {}, {})));
        REQUIRE(page.read_response()); // refused: a key in a URL (Open311 takes it in the form body)
        // A line is written once its response is sent, before the next request is read: one more
        // request on this connection makes sure both lines above are in (the last may be lost at stop).
        REQUIRE(page.send(testing::request_text("GET", "/healthz", {}, {})));
        REQUIRE(page.read_response());
    }
    f.server.reset(); // stops and joins the threads: the log is complete
    const std::string text = log.str();
    INFO(text);
    CHECK(text.find(" p-017 GET /v1/subscribe?access_token=***&after=x 400") != std::string::npos); // names the subject
    CHECK(text.find(" - GET /?lang=en&token=*** 200") != std::string::npos);                       // an open route: no subject
    CHECK(text.find("/?lang=en&token=*** ") != std::string::npos);
    CHECK(text.find("GET /open311/v2/requests.json?api_key=*** ") != std::string::npos);
    CHECK(text.find(worker) == std::string::npos);
}

// Appends `thousands` thousand reports: enough that a fold or a verification takes a while.
void post_reports(ServerFixture& f, int thousands) {
    for (int batch = 0; batch < thousands; ++batch) {
        json events = json::array();
        for (int i = 0; i < 1000; ++i) events.push_back(report("k" + std::to_string(batch * 1000 + i), i % 2 ? "m1" : "m2"));
        REQUIRE(f.post(json{{"events", events}}).status == 201);
    }
}

// Sends `n` GETs of `target` at once and then one of /healthz, and checks that /healthz was answered
// in well under half the time they took: what they wait for holds no HTTP thread. Their answers.
std::vector<HttpResponse> slow_beside_healthz(ServerFixture& f, const std::string& target, int n) {
    const Headers auth{{"Authorization", "Bearer " + admin}};
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::future<std::optional<HttpResponse>>> waiting;
    for (int i = 0; i < n; ++i) waiting.push_back(std::async(std::launch::async, [&] { return testing::fetch(f.port, "GET", target, {}, auth, 60s); }));
    std::this_thread::sleep_for(20ms); // they are in
    const auto asked = std::chrono::steady_clock::now();
    const auto health = testing::fetch(f.port, "GET", "/healthz");
    const auto health_took = std::chrono::steady_clock::now() - asked;
    REQUIRE(health.has_value());
    CHECK(health->status == 200);
    std::vector<HttpResponse> answers;
    for (auto& w : waiting) {
        auto r = w.get();
        REQUIRE(r.has_value());
        answers.push_back(std::move(*r));
    }
    const auto slow_took = std::chrono::steady_clock::now() - started;
    INFO("/healthz took " << std::chrono::duration<double, std::milli>(health_took).count() << " ms, " << target << " "
                          << std::chrono::duration<double, std::milli>(slow_took).count() << " ms");
    CHECK(health_took * 2 < slow_took);
    return answers;
}

TEST_CASE("server: an as_of fold holds no HTTP thread: other requests are answered while requests wait for it") {
    ServerFixture f; // two HTTP threads
    post_reports(f, 40);
    // More requests for one position than there are HTTP threads: each used to wait for the fold on
    // an HTTP thread, and nothing else was answered until it was done (/healthz took ~70 ms of ~90).
    const auto answers = slow_beside_healthz(f, "/v1/grids/t/stats?as_of=" + std::to_string(f.head() - 3), 4);
    std::set<std::string> bodies;
    for (const auto& r : answers) {
        CHECK(r.status == 200);
        bodies.insert(r.body);
    }
    CHECK(bodies.size() == 1);
    CHECK(f.call("GET", "/metrics").body.find("\ngridloop_as_of_folds_total 1\n") != std::string::npos); // one fold for the four
}

TEST_CASE("server: a verification of the log holds no HTTP thread, and runs one at a time") {
    ServerFixture f;
    post_reports(f, 40);
    const std::int64_t head = f.head();
    const auto answers = slow_beside_healthz(f, "/v1/audit/verify", 2);
    int verified = 0;
    for (const auto& r : answers) {
        if (r.status == 503) { // the other one was under way
            check_problem(r, 503);
            CHECK(r.body.find("under way") != std::string::npos);
            continue;
        }
        REQUIRE(r.status == 200);
        const auto j = json::parse(r.body);
        CHECK(j["ok"] == true);
        CHECK(j["checked"] == head);
        ++verified;
    }
    CHECK(verified >= 1);
    // Once it is done, the next one runs.
    const auto again = f.get_json("/v1/audit/verify?from=" + std::to_string(head - 10));
    CHECK(again["ok"] == true);
    CHECK(again["checked"] == 11);
}

TEST_CASE("server: an as_of request answered before its fold (its token revoked meanwhile) leaves no position reserved") {
    ServerFixture f;
    post_reports(f, 40);
    const std::int64_t head = f.head();
    const Headers auth{{"Authorization", "Bearer " + admin}};
    // A verification keeps the background thread busy while an as_of request queues behind it and
    // its token is revoked: handled again after the verification, it is answered 401, never folded.
    auto verifying = std::async(std::launch::async, [&] { return testing::fetch(f.port, "GET", "/v1/audit/verify", {}, auth, 60s); });
    std::this_thread::sleep_for(20ms);
    auto revoked = std::async(std::launch::async, [&] { return testing::fetch(f.port, "GET", "/v1/grids/t/stats?as_of=" + std::to_string(head - 5), {}, auth, 60s); });
    std::this_thread::sleep_for(20ms);
    f.auth->replace(http::Tokens::parse("[]"));
    const auto first = verifying.get();
    const auto second = revoked.get();
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CHECK(first->status == 200);
    f.auth->replace(http::Tokens::parse(tokens_text));
    if (second->status != 401) {
        MESSAGE("the as_of request was handled before the revocation: nothing to check"); // a slow machine
        return;
    }
    // Another position is folded, not refused as if the first were still being folded.
    const auto other = f.call("GET", "/v1/grids/t/stats?as_of=" + std::to_string(head - 9));
    CHECK(other.status == 200);
}

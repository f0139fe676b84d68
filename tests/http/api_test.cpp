// The API without sockets (Api::handle_now): routing, tokens, the write path's answers and refusals,
// read-your-writes, as_of, pagination, the OpenAPI document and /metrics.
#include "http/api.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <sstream>

using namespace gridloop;
using nlohmann::json;
using testing::EngineFixture;

namespace {

const std::string admin = "admin-token-0123456789";
const std::string worker = "worker-token-0123456789";
const std::string auditor = "auditor-token-012345678";
const std::string dashboard = "dashboard-token-0123456";

const char* const tokens_text = R"([
  {"token": "admin-token-0123456789", "subject": "root", "role": "admin"},
  {"token": "worker-token-0123456789", "subject": "p-017", "role": "worker", "scope": ["m1"]},
  {"token": "auditor-token-012345678", "subject": "aud", "role": "auditor"},
  {"token": "dashboard-token-0123456", "subject": "screen", "role": "dashboard"}
])";

json report(const std::string& id, const std::string& grid = "m1") {
    return EngineFixture::ev("IssueReported",
                             {{"case_id", id}, {"category", "noise"}, {"description", "夜间噪音"}, {"source", "resident"}, {"grid_id", grid}});
}

json with(json j, const std::string& key, json value) {
    j[key] = std::move(value);
    return j;
}

struct ApiFixture : EngineFixture {
    std::shared_ptr<http::Authenticator> auth = std::make_shared<http::Authenticator>(http::Tokens::parse(tokens_text));
    http::Api api{*engine, auth};

    ApiFixture() { small_town(); }

    http::Response call(const std::string& method, const std::string& target, const std::string& body = {}, const std::string& token = admin,
                        const std::map<std::string, std::string>& headers = {}) {
        http::Request r;
        r.method = method;
        r.target = target;
        r.body = body;
        r.headers = headers;
        if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
        return api.handle_now(r);
    }
    http::Response get(const std::string& target, const std::string& token = admin) { return call("GET", target, {}, token); }
    http::Response post(const std::string& body, const std::string& token = admin) { return call("POST", "/v1/events", body, token); }
    http::Response post(const json& body, const std::string& token = admin) { return post(body.dump(), token); }

    std::int64_t head() {
        const auto r = get("/v1/audit/head");
        REQUIRE(r.status == 200);
        return json::parse(r.body).at("position").get<std::int64_t>();
    }
    json get_json(const std::string& target, int status = 200) {
        const auto r = get(target);
        INFO(target << " → " << r.body);
        REQUIRE(r.status == status);
        return json::parse(r.body);
    }
};

// A refusal is problem+json with status, title and a detail that names what was wrong.
void check_problem(const http::Response& r, int status, const std::string& detail_has = {}) {
    INFO("answer: " << r.status << " " << r.body.substr(0, 300));
    CHECK(r.status == status);
    CHECK(r.content_type == "application/problem+json");
    const json j = json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j.value("status", 0) == status);
    CHECK(!j.value("title", std::string()).empty());
    const std::string detail = j.value("detail", std::string());
    CHECK(!detail.empty());
    if (!detail_has.empty()) CHECK_MESSAGE(detail.find(detail_has) != std::string::npos, "detail should name \"" << detail_has << "\"");
}

// Posts a body that must be refused with `status`, and checks that nothing was appended.
void refused(ApiFixture& f, const std::string& body, int status, const std::string& detail_has = {}) {
    const auto before = f.head();
    INFO("body: " << body.substr(0, 200));
    check_problem(f.post(body), status, detail_has);
    CHECK(f.head() == before);
}

// A 4xx problem (never 500) that appends nothing.
void refused_4xx(ApiFixture& f, const std::string& body) {
    const auto before = f.head();
    const auto r = f.post(body);
    INFO("body: " << body.substr(0, 120) << " answer: " << r.status << " " << r.body.substr(0, 300));
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
    CHECK(r.content_type == "application/problem+json");
    CHECK(f.head() == before);
}

} // namespace

TEST_SUITE("http") {

TEST_CASE("routing: unknown paths are 404, known paths with another method 405 with Allow") {
    ApiFixture f;
    check_problem(f.get("/nope"), 404, "/nope");
    check_problem(f.get("/v1/cases/a/b/c"), 404);
    check_problem(f.get("/v2/events"), 404);

    auto r = f.call("DELETE", "/v1/events");
    check_problem(r, 405, "DELETE");
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].first == "Allow");
    CHECK(r.headers[0].second == "POST, GET");

    r = f.call("POST", "/v1/cases/a");
    check_problem(r, 405);
    REQUIRE(!r.headers.empty());
    CHECK(r.headers[0].second == "GET");
    check_problem(f.call("PUT", "/healthz", "", ""), 405);
    check_problem(f.call("PATCH", "/v1/grids/t/stats"), 405);

    // HEAD is served wherever GET is.
    CHECK(f.call("HEAD", "/healthz", "", "").status == 200);
    // A malformed query string is a 400, not a crash.
    check_problem(f.get("/v1/cases?grid=%zz"), 400, "percent");
    check_problem(f.get("/v1/cases?grid=%4"), 400);
}

TEST_CASE("problems: a 503 asks clients to retry after 5 s, other refusals carry no Retry-After") {
    const auto unavailable = http::problem(503, "the event log is read-only");
    REQUIRE(unavailable.headers.size() == 1);
    CHECK(unavailable.headers[0] == std::pair<std::string, std::string>("Retry-After", "5"));
    for (const int status : {400, 404, 409, 413, 422}) CHECK(http::problem(status, "no").headers.empty());
}

TEST_CASE("auth: 401 with WWW-Authenticate without a valid bearer token and open endpoints need none") {
    ApiFixture f;
    for (const std::string& target : std::vector<std::string>{"/v1/cases", "/v1/events", "/v1/audit/head", "/v1/grids/t/stats"}) {
        CAPTURE(target);
        auto r = f.get(target, "");
        check_problem(r, 401, "Authorization");
        REQUIRE(!r.headers.empty());
        CHECK(r.headers[0].first == "WWW-Authenticate");
        CHECK(r.headers[0].second.rfind("Bearer", 0) == 0);
        r = f.get(target, "not-a-token-at-all-000");
        check_problem(r, 401, "not valid");
        CHECK(!r.headers.empty());
        r = f.get(target, admin + "x"); // a prefix of a real token is no token
        check_problem(r, 401);
    }
    check_problem(f.call("GET", "/v1/cases", "", "", {{"authorization", "Basic " + admin}}), 401);
    check_problem(f.call("GET", "/v1/cases", "", "", {{"authorization", "Bearer"}}), 401);
    check_problem(f.call("GET", "/v1/cases", "", "", {{"authorization", "Bearer "}}), 401);
    CHECK(f.call("GET", "/v1/cases", "", "", {{"authorization", "bearer " + admin}}).status == 200); // the scheme is case-insensitive
    // Posting without a token appends nothing.
    const auto before = f.head();
    check_problem(f.post(report("a"), ""), 401);
    CHECK(f.head() == before);
    for (const char* target : {"/healthz", "/metrics", "/openapi.json", "/"}) CHECK(f.get(target, "").status == 200);
}

TEST_CASE("auth: 403 for auditor and dashboard posting, and for dashboards reading raw events") {
    ApiFixture f;
    const auto before = f.head();
    check_problem(f.post(report("a"), auditor), 403, "auditor");
    check_problem(f.post(report("a"), dashboard), 403, "dashboard");
    check_problem(f.post(json{{"events", json::array({report("a")})}}, dashboard), 403);
    CHECK(f.head() == before);
    check_problem(f.get("/v1/events", dashboard), 403);
    check_problem(f.get("/v1/audit/head", dashboard), 403);
    // A dashboard may subscribe, but to notifications without event data (see server_test).
    const auto sse = f.get("/v1/subscribe", dashboard);
    CHECK(sse.status == 200);
    REQUIRE(sse.sse);
    CHECK(sse.sse->notify_only);
    CHECK_FALSE(f.get("/v1/subscribe", auditor).sse->notify_only);
    CHECK(f.get("/v1/events", auditor).status == 200);
    CHECK(f.get("/v1/cases", dashboard).status == 200);
    CHECK(f.get("/v1/grids/t/stats", dashboard).status == 200);
    // The envelope's actor is the token's subject: a body claiming another actor is refused.
    refused(f, with(report("a"), "actor", "someone-else").dump(), 403, "someone-else");
    auto r = f.post(report("a"), worker);
    REQUIRE(r.status == 201);
    CHECK(json::parse(r.body).at("actor") == "p-017");
    r = f.post(with(report("b"), "actor", "root"));
    REQUIRE(r.status == 201);
    CHECK(json::parse(r.body).at("actor") == "root");
}

TEST_CASE("dashboards read projections without names") {
    ApiFixture f;
    REQUIRE(f.post(EngineFixture::ev("MemberRegistered", {{"member_id", "mem-1"}, {"name", "张三丰"}, {"category", "retired"},
                                                          {"home_branch", "g"}, {"residence_grid", "m2"}}))
                .status == 201);
    const auto full = f.get("/v1/members/mem-1", admin);
    REQUIRE(full.status == 200);
    CHECK(full.body.find("张三丰") != std::string::npos);
    const auto list = f.get("/v1/members?grid=t", dashboard);
    REQUIRE(list.status == 200);
    CHECK(list.body.find("mem-1") != std::string::npos);
    CHECK(list.body.find("张三丰") == std::string::npos);
    const auto one = f.get("/v1/members/mem-1", dashboard);
    REQUIRE(one.status == 200);
    CHECK(one.body.find("张三丰") == std::string::npos);
}

TEST_CASE("POST one event → 201 with its envelope and a batch → 201 with all atomically") {
    ApiFixture f;
    const auto h = f.head();
    auto r = f.post(report("a"));
    REQUIRE(r.status == 201);
    CHECK(r.content_type == "application/json");
    const json e = json::parse(r.body);
    CHECK(e.at("position") == h + 1);
    CHECK(e.at("stream") == "case-a");
    CHECK(e.at("version") == 1);
    CHECK(e.at("type") == "IssueReported");
    CHECK(e.at("actor") == "root");
    CHECK(e.at("data").at("case_id") == "a");
    CHECK(e.at("hash").get<std::string>().size() == 64);
    CHECK(e.at("prev_hash").get<std::string>().size() == 64);
    CHECK(e.at("event_id").get<std::string>().size() > 0);
    CHECK(e.at("recorded_at") == "2026-11-16T01:00:00.000Z");
    const json audit = f.get_json("/v1/audit/head");
    CHECK(audit.at("hash") == e.at("hash"));

    r = f.post(json{{"events", json::array({report("b"), report("c", "m2"),
                                            EngineFixture::ev("IssueHandled", {{"case_id", "b"}, {"handler", "p"}, {"result", "ok"}})})}});
    REQUIRE(r.status == 201);
    const json batch = json::parse(r.body);
    REQUIRE(batch.at("events").size() == 3);
    for (std::size_t i = 0; i < 3; ++i) CHECK(batch["events"][i].at("position") == h + 2 + static_cast<std::int64_t>(i));
    CHECK(batch["events"][2].at("stream") == "case-b");
    CHECK(batch["events"][2].at("version") == 2);
    CHECK(batch["events"][1].at("prev_hash") == batch["events"][0].at("hash"));

    // One refused event refuses the whole batch: nothing of it is written.
    refused(f, json{{"events", json::array({report("d"), EngineFixture::ev("FeedbackGiven", {{"case_id", "a"}, {"to", "x"}, {"content", "y"}})})}}.dump(),
            409);
    check_problem(f.get("/v1/cases/d"), 404);
    // Envelope errors name the event's index in the batch.
    refused(f, json{{"events", json::array({report("d"), with(report("e"), "type", "Nope")})}}.dump(), 422, "events[1]");
    refused(f, R"({"events": []})", 422);
    refused(f, R"({"events": {}})", 400);
    refused(f, R"({"events": [], "extra": 1})", 422);
}

TEST_CASE("retrying with the same event_id → 200 with the original envelopes and other content → 409") {
    ApiFixture f;
    auto first = f.post(with(report("a"), "event_id", "phone-7-0001"));
    REQUIRE(first.status == 201);
    f.clock.advance(std::chrono::minutes(10)); // a retry later must still give the original, recorded_at included
    auto again = f.post(with(report("a"), "event_id", "phone-7-0001"));
    CHECK(again.status == 200);
    CHECK(again.body == first.body);
    const auto h = f.head();

    const json batch{{"events", json::array({with(report("b"), "event_id", "phone-7-0002"), with(report("c"), "event_id", "phone-7-0003")})}};
    auto b1 = f.post(batch);
    REQUIRE(b1.status == 201);
    auto b2 = f.post(batch);
    CHECK(b2.status == 200);
    CHECK(b2.body == b1.body);
    CHECK(f.head() == h + 2);

    // Same event_id, other content.
    json other = with(report("a"), "event_id", "phone-7-0001");
    other["data"]["description"] = "别的内容";
    refused(f, other.dump(), 409, "phone-7-0001");
    refused(f, with(report("z"), "event_id", "phone-7-0002").dump(), 409);
    // A retry by another subject is other content too (the actor is part of the envelope) or the same: never a duplicate.
    auto by_worker = f.post(with(report("a"), "event_id", "phone-7-0001"), worker);
    CHECK(by_worker.status != 201);
    CHECK(f.head() == h + 2);
}

TEST_CASE("a refused transition → 409, nothing appended, the case untouched") {
    ApiFixture f;
    REQUIRE(f.post(report("a")).status == 201);
    const auto before = f.get("/v1/cases/a");
    REQUIRE(before.status == 200);
    refused(f, EngineFixture::ev("FeedbackGiven", {{"case_id", "a"}, {"to", "resident"}, {"content", "done"}}).dump(), 409);
    refused(f, EngineFixture::ev("SatisfactionRated", {{"case_id", "a"}, {"rating", "satisfied"}, {"solved", "yes"}, {"rater", "r"}}).dump(), 409);
    refused(f, report("a").dump(), 409, "a");
    refused(f, EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "worker"}, {"reason", "x"}, {"auto", false}}).dump(), 409);
    refused(f, with(EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}}), "expected_version", 7).dump(), 409);
    refused(f, with(report("new"), "expected_version", 1).dump(), 409);
    CHECK(f.get("/v1/cases/a").body == before.body);
    REQUIRE(f.post(EngineFixture::ev("IssueDismissed", {{"case_id", "a"}, {"reason", "duplicate"}})).status == 201);
    refused(f, EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}}).dump(), 409);
}

TEST_CASE("400: not JSON, wrong JSON types, invalid UTF-8, missing fields") {
    ApiFixture f;
    refused(f, "", 400);
    refused(f, "{", 400, "JSON");
    refused(f, "not json", 400);
    refused(f, "[1, 2]", 400);
    refused(f, "\"IssueReported\"", 400);
    refused(f, R"({"type": 5, "data": {}})", 400, "type");
    refused(f, R"({"type": "IssueReported", "data": "x"})", 400, "data");
    refused(f, R"({"type": "IssueReported"})", 400, "data");
    refused(f, with(report("a"), "event_id", 5).dump(), 400, "event_id");
    json wrong = report("a");
    wrong["data"]["description"] = 5;
    refused(f, wrong.dump(), 400, "description");
    json missing = report("a");
    missing["data"].erase("description");
    refused(f, missing.dump(), 400, "description");
    missing = report("a");
    missing["data"].erase("grid_id");
    refused(f, missing.dump(), 400, "grid_id");
    // Invalid UTF-8 inside a string: a lone continuation byte, an overlong '/', a truncated sequence, a lone surrogate.
    const std::string valid = report("a").dump();
    const auto at = valid.find("夜间噪音");
    REQUIRE(at != std::string::npos);
    for (const std::string& bad : {std::string("\x80"), std::string("\xc0\xaf"), std::string("\xe5\xa4"), std::string("\xff\xfe"),
                                  std::string("\xed\xa0\x80"), std::string("\\ud800")}) {
        std::string body = valid;
        body.replace(at, std::string("夜间噪音").size(), bad);
        refused(f, body, 400);
    }
    // A byte-order mark or trailing garbage is not one JSON value either.
    refused(f, valid + "}", 400);
}

TEST_CASE("422: unknown type, bad enum, bad id, unknown fields named, unknown grid") {
    ApiFixture f;
    refused(f, with(report("a"), "type", "IssueTeleported").dump(), 422, "IssueTeleported");
    json bad = report("a");
    bad["data"]["source"] = "pigeon";
    refused(f, bad.dump(), 422, "source");
    bad = report("a");
    bad["data"]["severity"] = "apocalyptic";
    refused(f, bad.dump(), 422, "severity");
    refused(f, report("Bad ID!").dump(), 422, "case_id");
    refused(f, report(std::string(65, 'a')).dump(), 422, "case_id");
    refused(f, report("-leading-dash").dump(), 422, "case_id");
    bad = report("a");
    bad["data"]["colour"] = "red";
    bad["data"]["mood"] = "sad";
    refused(f, bad.dump(), 422, "colour");
    refused(f, bad.dump(), 422, "mood");
    refused(f, with(report("a"), "colour", "red").dump(), 422, "colour");
    refused(f, report("a", "nowhere").dump(), 422, "nowhere");
    refused(f, with(report("a"), "expected_version", -1).dump(), 422, "expected_version");
    refused(f, with(report("a"), "occurred_at", "yesterday").dump(), 422, "occurred_at");
    refused(f, with(report("a"), "event_id", std::string(65, 'x')).dump(), 422, "event_id");
    refused(f, EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "heaven"}, {"reason", "x"}, {"auto", false}}).dump(), 422,
            "to_rung");
}

TEST_CASE("huge numbers and deep nesting answer 4xx, never 500") {
    ApiFixture f;
    const std::string rep = report("a").dump();
    const std::string head = rep.substr(0, rep.size() - 1); // without the closing brace
    for (const std::string& n : std::vector<std::string>{"1e400", "-1e400", "99999999999999999999999", "-99999999999999999999999", "18446744073709551616",
                                "9223372036854775808", "1.5", "1e-400", "0.0000000000000000000000001"}) {
        CAPTURE(n);
        refused_4xx(f, head + ",\"expected_version\":" + n + "}");
        refused_4xx(f, R"({"type":"PointsAwarded","data":{"member_id":"m","points":)" + n + R"(,"reason":"x"}})");
        if (n.find("99999") != std::string::npos || n.find("e400") != std::string::npos)
            refused_4xx(f, R"({"type":"IssueReported","data":{"case_id":"a","category":"c","description":"d","source":"patrol","location":{"lat":)" +
                               n + R"(,"lng":)" + n + "}}}");
        refused_4xx(f, R"({"type":"PolicySet","data":{"limits":{"worker":)" + n + "}}}");
    }
    refused_4xx(f, std::string(100000, '['));
    refused_4xx(f, std::string(100000, '[') + std::string(100000, ']'));
    refused_4xx(f, std::string(100000, '{'));
    std::string objects;
    for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
    refused_4xx(f, objects);
    refused_4xx(f, head + ",\"x\":" + std::string(50000, '[') + std::string(50000, ']') + "}");
    refused_4xx(f, "{\"events\":[" + std::string(100000, '[') + "]}");
    // A long string is no nesting: brackets inside strings do not count.
    json quoted = report("a");
    quoted["data"]["description"] = std::string(3000, '[');
    CHECK(f.post(quoted).status == 201);
    // Numbers in the query string.
    for (const std::string& q : std::vector<std::string>{"as_of=99999999999999999999999", "as_of=1e400", "as_of=-1", "as_of=0", "as_of=", "limit=1e400", "limit=0",
                                "limit=99999999999999999999999", "after=-1", "after=99999999999999999999999", "after=1e400"}) {
        CAPTURE(q);
        check_problem(f.get("/v1/events?" + q), 400);
        if (q.rfind("after", 0) != 0) check_problem(f.get("/v1/cases?" + q), 400);
    }
}

TEST_CASE("read your writes: a GET after 201 sees the event everywhere") {
    ApiFixture f;
    CHECK(f.get_json("/v1/grids/m1/stats").at("reported") == 0);
    REQUIRE(f.post(report("a")).status == 201);
    const json k = f.get_json("/v1/cases/a");
    CHECK(k.at("state") == "open");
    CHECK(k.at("rung") == "worker");
    CHECK(k.at("grid_id") == "m1");
    CHECK(f.get_json("/v1/grids/m1/stats").at("reported") == 1);
    CHECK(f.get_json("/v1/grids/t/stats").at("reported") == 1);
    CHECK(f.get_json("/v1/streams/case-a").at("events").size() == 1);
    REQUIRE(f.post(EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}})).status == 201);
    CHECK(f.get_json("/v1/cases/a").at("state") == "handled");
    CHECK(f.get_json("/v1/streams/case-a").at("version") == 2);
    CHECK(f.get_json("/v1/cases?state=handled").at("cases").size() == 1);

    // The same through the asynchronous entry: the read is issued from the completion of the write.
    std::promise<std::pair<int, std::string>> seen;
    http::Request w{"POST", "/v1/events", report("b").dump(), {{"authorization", "Bearer " + admin}}};
    f.api.handle(w, [&](http::Response r) {
        if (r.status != 201) return seen.set_value({r.status, r.body});
        auto g = f.api.handle_now(http::Request{"GET", "/v1/cases/b", "", {{"authorization", "Bearer " + admin}}});
        seen.set_value({g.status, g.body});
    });
    auto fut = seen.get_future();
    REQUIRE(fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    const auto got = fut.get();
    CHECK(got.first == 200);
    CHECK(got.second.find("\"case_id\":\"b\"") != std::string::npos);
}

TEST_CASE("as_of=P taken later is byte-identical to the live answer taken when the head was P") {
    ApiFixture f;
    using namespace std::chrono_literals;
    const std::vector<std::string> reads{
        "/v1/cases/a",
        "/v1/cases/b",
        "/v1/cases",
        "/v1/cases?grid=g&state=open",
        "/v1/cases?overdue=true",
        "/v1/grids",
        "/v1/grids/g",
        "/v1/grids/t/stats",
        "/v1/grids/m1/stats?from=2026-11-01&to=2026-12-01",
        "/v1/grids/t/stars?period=2026-11",
        "/v1/departments/d/queue",
        "/v1/members?grid=t",
        "/v1/members/mem-1",
        "/v1/branches/g/outflow",
        "/v1/points/leaderboard?month=2026-11",
        "/v1/streams/case-a",
        "/v1/events?after=5&limit=3",
        "/v1/audit/head",
    };
    const std::vector<std::pair<std::chrono::minutes, json>> steps{
        {0min, EngineFixture::ev("MemberRegistered", {{"member_id", "mem-1"}, {"name", "李四"}, {"category", "in_service"}, {"home_branch", "g"},
                                                      {"residence_grid", "m3"}})},
        {30min, report("a")},
        {60min, EngineFixture::ev("IssueDiscussed", {{"case_id", "a"}, {"participants", {"p1"}}, {"decision", "上报"}})},
        {5min, EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "micro_head"}, {"reason", "needs a head"}, {"auto", false}})},
        {3 * 24 * 60min, report("b", "m3")}, // a is overdue by now
        {10min, EngineFixture::ev("IssueEscalated", {{"case_id", "b"}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "x"}, {"auto", false}})},
        {10min, EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}, {"volunteers", {"mem-1"}}})},
        {10min, EngineFixture::ev("PointsAwarded", {{"member_id", "mem-1"}, {"points", 5}, {"reason", "helped"}, {"case_id", "a"}})},
        {10min, EngineFixture::ev("FeedbackGiven", {{"case_id", "a"}, {"to", "resident"}, {"content", "done"}})},
        {10min, EngineFixture::ev("SatisfactionRated", {{"case_id", "a"}, {"rating", "satisfied"}, {"solved", "yes"}, {"rater", "r"}})},
    };
    // Live answers, read with the clock still at the recorded_at of the event just written.
    std::map<std::int64_t, std::vector<std::pair<int, std::string>>> live;
    auto snapshot = [&] {
        std::vector<std::pair<int, std::string>> v;
        for (const auto& t : reads) {
            const auto r = f.get(t);
            v.emplace_back(r.status, r.body);
        }
        live[f.head()] = std::move(v);
    };
    snapshot();
    for (const auto& [dt, ev] : steps) {
        f.clock.advance(dt);
        const auto r = f.post(ev);
        INFO(r.body);
        REQUIRE(r.status == 201);
        snapshot();
    }
    f.clock.advance(std::chrono::hours(24 * 30)); // much later
    REQUIRE(f.post(report("later", "m2")).status == 201);
    bool some_differ = false;
    for (const auto& [p, answers] : live) {
        for (std::size_t i = 0; i < reads.size(); ++i) {
            const std::string target = reads[i] + (reads[i].find('?') == std::string::npos ? "?" : "&") + "as_of=" + std::to_string(p);
            CAPTURE(target);
            const auto r = f.get(target);
            CHECK(r.status == answers[i].first);
            if (answers[i].first == 200) CHECK(r.body == answers[i].second);
            CHECK(f.get(target).body == r.body); // the same request, the same bytes
            if (r.body != f.get(reads[i]).body) some_differ = true;
        }
    }
    CHECK(some_differ); // the history really moved on, so the comparison means something
    // Through an API whose past models may hold one case in all: each keeps only the model just
    // built, so every other position is rebuilt — with the same bytes.
    http::Api tight(*f.engine, f.auth, http::Api::Options{.as_of_cache_cases = 1});
    for (const auto& [p, answers] : live)
        for (std::size_t i = 0; i < reads.size(); ++i) {
            const std::string target = reads[i] + (reads[i].find('?') == std::string::npos ? "?" : "&") + "as_of=" + std::to_string(p);
            CAPTURE(target);
            const auto r = tight.handle_now(http::Request{"GET", target, "", {{"authorization", "Bearer " + admin}}});
            CHECK(r.status == answers[i].first);
            if (answers[i].first == 200) CHECK(r.body == answers[i].second);
        }
    const auto h = f.head();
    for (const auto& t : reads) {
        const std::string sep = t.find('?') == std::string::npos ? "?" : "&";
        check_problem(f.get(t + sep + "as_of=" + std::to_string(h + 1)), 422, "past the head");
        check_problem(f.get(t + sep + "as_of=0"), 400, "as_of");
    }
}

TEST_CASE("cursor pagination of /v1/cases covers every case once") {
    ApiFixture f;
    std::set<std::string> all, in_g;
    json batch = json::array();
    for (int i = 0; i < 23; ++i) {
        const std::string id = "c-" + std::to_string(100 + i * 7 % 23);
        const std::string grid = i % 3 == 0 ? "m1" : i % 3 == 1 ? "m2" : "m3";
        batch.push_back(report(id, grid));
        all.insert(id);
        if (grid != "m3") in_g.insert(id);
    }
    REQUIRE(f.post(json{{"events", batch}}).status == 201);
    auto walk = [&](const std::string& base, int limit) {
        std::vector<std::string> seen;
        std::string cursor;
        for (int pages = 0; pages < 100; ++pages) {
            const std::string target = base + "limit=" + std::to_string(limit) + (cursor.empty() ? "" : "&cursor=" + cursor);
            const json page = f.get_json(target);
            CHECK(page.at("cases").size() <= static_cast<std::size_t>(limit));
            for (const auto& k : page.at("cases")) seen.push_back(k.at("case_id").get<std::string>());
            if (page.at("next_cursor").is_null()) break;
            CHECK(page.at("cases").size() == static_cast<std::size_t>(limit));
            cursor = page.at("next_cursor").get<std::string>();
        }
        return seen;
    };
    for (int limit : {1, 5, 7, 23, 24, 100}) {
        CAPTURE(limit);
        auto seen = walk("/v1/cases?", limit);
        CHECK(seen.size() == all.size());
        CHECK(std::set<std::string>(seen.begin(), seen.end()) == all);
        CHECK(std::is_sorted(seen.begin(), seen.end()));
        auto g = walk("/v1/cases?grid=g&", limit);
        CHECK(std::set<std::string>(g.begin(), g.end()) == in_g);
        CHECK(g.size() == in_g.size());
    }
    check_problem(f.get("/v1/cases?limit=1001"), 400, "limit");
    check_problem(f.get("/v1/cases?grid=nowhere"), 404, "nowhere");
    check_problem(f.get("/v1/cases?state=sleeping"), 400, "state");
}

TEST_CASE("/v1/events pages in position order with next_after") {
    ApiFixture f;
    json batch = json::array();
    for (int i = 0; i < 12; ++i) batch.push_back(report("e-" + std::to_string(i)));
    REQUIRE(f.post(json{{"events", batch}}).status == 201);
    const auto h = f.head();
    REQUIRE(h == 21);
    for (int limit : {1, 4, 7, 21, 50}) {
        CAPTURE(limit);
        std::vector<std::int64_t> positions;
        std::int64_t after = 0;
        for (int pages = 0; pages < 100; ++pages) {
            const json page = f.get_json("/v1/events?after=" + std::to_string(after) + "&limit=" + std::to_string(limit));
            CHECK(page.at("head") == h);
            CHECK(page.at("events").size() <= static_cast<std::size_t>(limit));
            for (const auto& e : page.at("events")) positions.push_back(e.at("position").get<std::int64_t>());
            if (page.at("next_after").is_null()) break;
            after = page.at("next_after").get<std::int64_t>();
            CHECK(after == positions.back());
        }
        REQUIRE(positions.size() == static_cast<std::size_t>(h));
        for (std::int64_t i = 0; i < h; ++i) CHECK(positions[static_cast<std::size_t>(i)] == i + 1);
    }
    const json tail = f.get_json("/v1/events?after=" + std::to_string(h));
    CHECK(tail.at("events").empty());
    CHECK(tail.at("next_after").is_null());
    const json past = f.get_json("/v1/events?after=5&as_of=8");
    CHECK(past.at("events").size() == 3);
    CHECK(past.at("head") == 8);
    CHECK(past.at("next_after").is_null());

    // Pages are capped by the server's max_page, and next_after says where to go on.
    http::Api small(*f.engine, f.auth, http::Api::Options{.max_batch = 1000, .max_page = 5, .as_of_cache = 4});
    const auto r = small.handle_now(http::Request{"GET", "/v1/events?limit=1000", "", {{"authorization", "Bearer " + admin}}});
    REQUIRE(r.status == 200);
    const json capped = json::parse(r.body);
    CHECK(capped.at("events").size() == 5);
    CHECK(capped.at("next_after") == 5);
}

TEST_CASE("an API destroyed before its engine no longer hears commits") {
    ApiFixture f;
    auto calls = std::make_shared<std::atomic<int>>(0);
    {
        http::Api other(*f.engine, f.auth);
        other.hub().subscribe([calls](const std::vector<events::RawEnvelope>&) { ++*calls; });
        REQUIRE(f.post(report("a")).status == 201);
        CHECK(*calls == 1);
    }
    REQUIRE(f.post(report("b")).status == 201);
    CHECK(*calls == 1);
}

TEST_CASE("the OpenAPI document lists exactly the routes the router serves") {
    ApiFixture f;
    // The router's table, read from its source.
    std::ifstream in(std::string(GRIDLOOP_SOURCE_DIR) + "/http/api.cpp");
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    const std::string src = text.str();
    const std::regex row(R"re(\{"(GET|POST|PUT|PATCH|DELETE)", "(/[^"]*)", Access::)re");
    auto normal = [](std::string p) { return std::regex_replace(p, std::regex(R"(\{[^}]*\})"), "{}"); };
    std::set<std::string> routed;
    for (auto it = std::sregex_iterator(src.begin(), src.end(), row); it != std::sregex_iterator(); ++it) {
        const std::string method = (*it)[1], pattern = (*it)[2];
        routed.insert(method + " " + normal(pattern));
        // The route answers (no 404 from the router, no 405), and metrics name it by its pattern.
        const std::string concrete = std::regex_replace(pattern, std::regex(R"(\{[^}]*\})"), "zz");
        const auto r = method == "POST" ? f.post(report("zz")) : f.get(concrete);
        CAPTURE(concrete);
        CHECK(r.status != 405);
        CHECK(r.body.find("no such resource") == std::string::npos);
        CHECK(http::Api::route_of(http::Request{method, concrete, "", {}}) == method + " " + pattern);
    }
    REQUIRE(routed.size() >= 20);
    CHECK(routed.count("GET /v1/subscribe"));
    CHECK(routed.count("GET /v1/grids/{}/stats"));

    const auto r = f.get("/openapi.json", "");
    REQUIRE(r.status == 200);
    CHECK(r.content_type == "application/json");
    const json doc = json::parse(r.body);
    CHECK(doc.at("openapi").get<std::string>().rfind("3.1", 0) == 0);
    std::set<std::string> documented;
    for (const auto& [path, ops] : doc.at("paths").items()) {
        for (const auto& [method, op] : ops.items()) {
            std::string m = method;
            for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            documented.insert(m + " " + normal(path));
            CHECK(op.contains("responses"));
            // Every {name} in the path is a declared path parameter.
            static const std::regex param_name(R"(\{([^}]*)\})");
            for (auto it = std::sregex_iterator(path.begin(), path.end(), param_name); it != std::sregex_iterator(); ++it) {
                bool declared = false;
                for (const auto& p : op.value("parameters", json::array()))
                    declared = declared || (p.at("in") == "path" && p.at("name") == (*it)[1].str() && p.value("required", false));
                CHECK_MESSAGE(declared, path << " declares " << (*it)[1].str());
            }
        }
    }
    for (const auto& x : routed) CHECK_MESSAGE(documented.count(x), "undocumented route " << x);
    for (const auto& x : documented) CHECK_MESSAGE(routed.count(x), "documented but not routed " << x);
}

// A counter's value in /metrics.
std::int64_t metric(ApiFixture& f, const std::string& name) {
    const std::string m = f.get("/metrics", "").body;
    const auto at = m.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stoll(m.substr(at + name.size() + 2));
}

TEST_CASE("as_of: one past model is folded at a time, and the same position once for all who ask") {
    ApiFixture f;
    for (int batch = 0; batch < 20; ++batch) { // enough events that a fold takes a while
        json events = json::array();
        for (int i = 0; i < 1000; ++i) events.push_back(report("k" + std::to_string(batch * 1000 + i), i % 2 ? "m1" : "m2"));
        REQUIRE(f.post(json{{"events", events}}).status == 201);
    }
    const std::int64_t head = f.head();

    // Six requests at once for one position: one fold, six equal answers.
    const std::int64_t folds = metric(f, "gridloop_as_of_folds_total");
    const std::string target = "/v1/grids/t/stats?as_of=" + std::to_string(head - 7);
    std::vector<std::future<http::Response>> same;
    for (int i = 0; i < 6; ++i) same.push_back(std::async(std::launch::async, [&] { return f.get(target); }));
    std::set<std::string> bodies;
    for (auto& r : same) {
        const auto answer = r.get();
        CHECK(answer.status == 200);
        bodies.insert(answer.body);
    }
    CHECK(bodies.size() == 1);
    CHECK(metric(f, "gridloop_as_of_folds_total") == folds + 1);

    // Another position while a fold is under way: 503 with Retry-After, nothing folded for it.
    int busy = 0;
    for (std::int64_t p = head - 100; p > head - 120 && busy == 0; --p) {
        const std::int64_t before = metric(f, "gridloop_as_of_folds_total");
        auto first = std::async(std::launch::async, [&] { return f.get("/v1/grids/t/stats?as_of=" + std::to_string(p)); });
        while (metric(f, "gridloop_as_of_folds_total") == before && first.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {}
        const auto other = f.get("/v1/grids/t/stats?as_of=" + std::to_string(p - 50));
        if (other.status == 503) {
            ++busy;
            check_problem(other, 503, "being folded");
            REQUIRE(other.headers.size() == 1);
            CHECK(other.headers[0] == std::pair<std::string, std::string>("Retry-After", "5"));
        } else {
            CHECK(other.status == 200); // the first fold was over before it asked
        }
        CHECK(first.get().status == 200);
    }
    CHECK(busy == 1);
    CHECK(metric(f, "gridloop_as_of_busy_total") == 1);
}

TEST_CASE("/metrics: requests by route and status, batch sizes, commit latency, subscribers, head") {
    ApiFixture f;
    REQUIRE(f.post(json{{"events", json::array({report("a"), report("b"), report("c")})}}).status == 201);
    REQUIRE(f.post(report("d")).status == 201);
    REQUIRE(f.get("/v1/cases/a").status == 200);
    REQUIRE(f.get("/v1/cases/zz").status == 404);
    REQUIRE(f.get("/nope").status == 404);
    const auto r = f.get("/metrics", "");
    REQUIRE(r.status == 200);
    CHECK(r.content_type.rfind("text/plain", 0) == 0);
    const std::string& m = r.body;
    INFO(m);
    CHECK(m.find("gridloop_http_requests_total{route=\"POST /v1/events\",status=\"201\"} 2\n") != std::string::npos);
    CHECK(m.find("gridloop_http_requests_total{route=\"GET /v1/cases/{id}\",status=\"200\"} 1\n") != std::string::npos);
    CHECK(m.find("gridloop_http_requests_total{route=\"GET /v1/cases/{id}\",status=\"404\"} 1\n") != std::string::npos);
    CHECK(m.find("status=\"404\"} ") != std::string::npos);
    CHECK(m.find("# TYPE gridloop_append_batch_events histogram") != std::string::npos);
    CHECK(m.find("# TYPE gridloop_commit_seconds histogram") != std::string::npos);
    CHECK(m.find("gridloop_subscribers 0\n") != std::string::npos);
    CHECK(m.find("gridloop_head_position " + std::to_string(f.head()) + "\n") != std::string::npos);

    // Every sample line is well-formed; histogram buckets are cumulative and end at _count.
    const std::regex sample(R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$)re");
    std::map<std::string, std::vector<double>> buckets;
    std::map<std::string, double> counts;
    std::istringstream lines(m);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::smatch s;
        CHECK_MESSAGE(std::regex_match(line, s, sample), "malformed sample: " << line);
        if (s.empty()) continue;
        const std::string name = s[1];
        const double v = std::stod(s[3]);
        if (name.size() > 7 && name.ends_with("_bucket")) buckets[name.substr(0, name.size() - 7)].push_back(v);
        if (name.size() > 6 && name.ends_with("_count")) counts[name.substr(0, name.size() - 6)] = v;
    }
    for (const char* h : {"gridloop_append_batch_events", "gridloop_commit_seconds"}) {
        CAPTURE(h);
        REQUIRE(buckets.count(h));
        CHECK(std::is_sorted(buckets[h].begin(), buckets[h].end()));
        CHECK(buckets[h].back() == counts[h]);
        CHECK(counts[h] >= 2); // at least our two commits (small_town adds one more)
    }
}

} // TEST_SUITE

TEST_CASE("dashboards: the town's today and month, department queues narrowed to a subtree") {
    ApiFixture f;
    // The fixture's clock is Monday 2026-11-16 09:00 in Shanghai; in UTC it is still the 16th at 01:00.
    const json g = f.get_json("/v1/grids");
    CHECK(g.at("today") == "2026-11-16");
    CHECK(g.at("month") == "2026-11");
    CHECK(g.at("timezone") == "Asia/Shanghai");
    for (const auto& [id, grid] : {std::pair{"a", "m1"}, {"b", "m2"}, {"c", "m3"}}) {
        REQUIRE(f.post(report(id, grid)).status == 201);
        REQUIRE(f.post(EngineFixture::ev("IssueEscalated", {{"case_id", id}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "路面"}}))
                    .status == 201);
    }
    auto ids = [&](const std::string& target) {
        const json queue = f.get_json(target);
        std::vector<std::string> out;
        for (const auto& k : queue.at("cases")) out.push_back(k.at("case_id"));
        std::sort(out.begin(), out.end());
        return out;
    };
    CHECK(ids("/v1/departments/d/queue") == std::vector<std::string>{"a", "b", "c"});
    CHECK(ids("/v1/departments/d/queue?grid=g") == std::vector<std::string>{"a", "b"});
    CHECK(ids("/v1/departments/d/queue?grid=m3") == std::vector<std::string>{"c"});
    CHECK(ids("/v1/departments/d/queue?grid=t2").empty());
    check_problem(f.get("/v1/departments/d/queue?grid=nowhere"), 404, "unknown grid nowhere");
}

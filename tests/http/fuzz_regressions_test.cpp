// Requests that broke the API at handler level, found while fuzzing it (fuzz/), kept as tests.
#include "http/api.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

using namespace gridloop;
using nlohmann::json;

namespace {

struct Fixture : testing::EngineFixture {
    std::shared_ptr<http::Authenticator> auth = std::make_shared<http::Authenticator>(
        http::Tokens::parse(R"([{"token": "admin-token-0123456789", "subject": "root", "role": "admin"}])"));
    http::Api api{*engine, auth};

    Fixture() { small_town(); }

    http::Response post(const json& body) {
        http::Request r;
        r.method = "POST";
        r.target = "/v1/events";
        r.body = body.dump();
        r.headers["authorization"] = "Bearer admin-token-0123456789";
        return api.handle_now(r);
    }
};

} // namespace

TEST_SUITE("http") {

// A batch setting an unbounded time limit and then reporting a case: the report's due time walked
// the calendar week by week for hours on the writer thread, and every other write waited behind it.
TEST_CASE("a policy with an unbounded time limit is refused, and the writer goes on") {
    Fixture f;
    const auto before = f.engine->head().position;
    const json batch{{"events",
                      {testing::EngineFixture::ev("PolicySet", {{"limits", {{"worker", "P9999999999W"}}}}), testing::EngineFixture::report("k1")}}};
    const auto r = f.post(batch);
    CHECK(r.status == 422);
    CHECK(r.body.find("data.limits.worker must be at most P366D") != std::string::npos);
    CHECK(f.engine->head().position == before);
    // The writer is free: the report alone goes through.
    CHECK(f.post(testing::EngineFixture::report("k1")).status == 201);
}

}

// The writer: idempotent retries, expected versions, atomic batches, group commit, reopening.
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>

using namespace gridloop;
using events::errc;
using nlohmann::json;
using testing::EngineFixture;

namespace {

using Fixture = EngineFixture;
json report(const std::string& id) { return Fixture::report(id); }

json with_id(json j, const std::string& id) {
    j["event_id"] = id;
    return j;
}

} // namespace

TEST_SUITE("engine") {
TEST_CASE("envelopes: gapless positions, per-stream versions, actor from the caller, chain") {
    EngineFixture f;
    f.small_town();
    auto r = f.post(report("a"), "p-017");
    REQUIRE(r);
    CHECK(r->created);
    const auto& e = r->envelopes.at(0);
    CHECK(e.position == 10);
    CHECK(e.stream == "case-a");
    CHECK(e.version == 1);
    CHECK(e.actor == "p-017");
    CHECK(e.recorded_at == "2026-11-16T01:00:00.000Z");
    CHECK(e.occurred_at == e.recorded_at);
    CHECK(e.hash == events::chain_hash(e));
    CHECK(e.event_id.size() == 36); // generated UUID
    auto h = f.post(EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}}));
    REQUIRE(h);
    CHECK(h->envelopes[0].version == 2);
    CHECK(h->envelopes[0].prev_hash == e.hash);
}

TEST_CASE("recorded_at never decreases even when the clock steps back, occurred_at is the client's") {
    EngineFixture f;
    f.small_town();
    f.clock.advance(std::chrono::hours(1));
    REQUIRE(f.post(report("a")));
    f.clock.advance(-std::chrono::hours(2));
    json late = report("b");
    late["occurred_at"] = "2026-11-15T10:00:00+08:00";
    auto r = f.post(late);
    REQUIRE(r);
    CHECK(r->envelopes[0].recorded_at == "2026-11-16T02:00:00.000Z");
    CHECK(r->envelopes[0].occurred_at == "2026-11-15T02:00:00.000Z");
    json future = report("c");
    future["occurred_at"] = "2027-01-01T00:00:00Z";
    auto refused = f.post(future);
    REQUIRE(!refused);
    CHECK(refused.error().message.find("future") != std::string::npos);
}

TEST_CASE("retries with the same event_id never duplicate") {
    EngineFixture f;
    f.small_town();
    auto first = f.post(with_id(report("a"), "phone-1-0001"));
    REQUIRE(first);
    CHECK(first->created);
    f.clock.advance(std::chrono::minutes(5));
    auto again = f.post(with_id(report("a"), "phone-1-0001"));
    REQUIRE(again);
    CHECK_FALSE(again->created);
    CHECK(again->envelopes == first->envelopes); // the original envelope, byte for byte
    CHECK(f.engine->head().position == first->envelopes[0].position);
    SUBCASE("the same id with other content is a conflict") {
        json other = report("b");
        auto r = f.post(with_id(other, "phone-1-0001"));
        REQUIRE(!r);
        CHECK(r.error().code == errc::conflict);
        CHECK(r.error().message.find("already used") != std::string::npos);
    }
    SUBCASE("a retried batch returns the originals; a batch mixing old and new appends only the new") {
        json batch = json::array({with_id(report("b"), "phone-1-0002"), with_id(report("c"), "phone-1-0003")});
        auto b1 = f.post_all(batch);
        REQUIRE(b1);
        auto b2 = f.post_all(batch);
        REQUIRE(b2);
        CHECK_FALSE(b2->created);
        CHECK(b2->envelopes == b1->envelopes);
        batch.push_back(with_id(report("d"), "phone-1-0004"));
        auto b3 = f.post_all(batch);
        REQUIRE(b3);
        CHECK(b3->created);
        CHECK(b3->envelopes.size() == 3);
        CHECK(b3->envelopes[2].position == b1->envelopes[1].position + 1);
    }
    SUBCASE("the same id twice within one batch with other content") {
        auto r = f.post_all(json::array({with_id(report("x"), "dup"), with_id(report("y"), "dup")}));
        REQUIRE(!r);
        CHECK(r.error().code == errc::conflict);
    }
    SUBCASE("retries survive a restart") {
        f.engine.reset();
        f.engine = std::make_unique<engine::Engine>(f.path, f.clock);
        auto r = f.post(with_id(report("a"), "phone-1-0001"));
        REQUIRE(r);
        CHECK_FALSE(r->created);
        CHECK(r->envelopes == first->envelopes);
    }
}

TEST_CASE("expected_version: absent = any, 0 = new stream, n = exactly n") {
    EngineFixture f;
    f.small_town();
    json r0 = report("a");
    r0["expected_version"] = 0;
    REQUIRE(f.post(r0));
    auto again = f.post(r0);
    REQUIRE(!again);
    CHECK(again.error().code == errc::conflict);
    CHECK(again.error().message.find("stream \"case-a\" is at version 1, expected 0") != std::string::npos);
    json handled = EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}});
    handled["expected_version"] = 2;
    auto wrong = f.post(handled);
    REQUIRE(!wrong);
    CHECK(wrong.error().code == errc::conflict);
    handled["expected_version"] = 1;
    CHECK(f.post(handled));
}

TEST_CASE("a batch is atomic: one refused event and none is written") {
    EngineFixture f;
    f.small_town();
    const auto before = f.engine->head();
    auto r = f.post_all(json::array({report("a"), report("b"), EngineFixture::ev("FeedbackGiven", {{"case_id", "a"}, {"to", "x"}, {"content", "y"}}),
                                     report("c")}));
    REQUIRE(!r);
    CHECK(r.error().code == errc::conflict);
    CHECK(r.error().message.rfind("events[2]: ", 0) == 0);
    CHECK(f.engine->head() == before);
    f.engine->read([](const auto& m) { CHECK(m.find_case("a") == nullptr); });
    engine::StoreReader reader(f.path);
    CHECK(reader.head().position == before.position);
    // Later events in a batch see the earlier ones.
    auto ok = f.post_all(json::array({report("a"), EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}})}));
    REQUIRE(ok);
    CHECK(ok->envelopes[1].version == 2);
}

TEST_CASE("group commit: concurrent submitters share commits, each gets its own answer") {
    EngineFixture f;
    f.small_town();
    std::atomic<int> commits{0};
    f.engine->on_commit([&](const auto&, const auto&) { ++commits; });
    constexpr int threads = 8, per_thread = 40;
    std::vector<std::thread> pool;
    std::atomic<int> ok{0}, conflicts{0};
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                std::promise<events::Result<engine::Appended>> done;
                auto fut = done.get_future();
                // Every thread also tries one case id that another thread reports: exactly one wins.
                const std::string id = i == 0 ? "shared" : "c-" + std::to_string(t) + "-" + std::to_string(i);
                f.engine->submit(engine::Submission{{*events::decode_posted(report(id))}, "p-" + std::to_string(t), std::nullopt},
                                 [&](events::Result<engine::Appended> r) { done.set_value(std::move(r)); });
                auto r = fut.get();
                if (r) ++ok;
                else if (r.error().code == errc::conflict) ++conflicts;
            }
        });
    }
    for (auto& t : pool) t.join();
    CHECK(ok == threads * (per_thread - 1) + 1);
    CHECK(conflicts == threads - 1);
    CHECK(commits <= ok); // never more commits than accepted requests
    engine::StoreReader reader(f.path);
    std::int64_t expected = 1;
    reader.scan(0, INT64_MAX, [&](const events::RawEnvelope& e) {
        CHECK(e.position == expected++);
        return true;
    });
    CHECK(reader.head().position == 9 + ok);
}

TEST_CASE("reopening folds the same model, as_of folds a prefix") {
    EngineFixture f;
    f.small_town();
    for (int i = 0; i < 20; ++i) {
        REQUIRE(f.post(report("c" + std::to_string(i))));
        if (i % 3 == 0) REQUIRE(f.post(EngineFixture::ev("IssueHandled", {{"case_id", "c" + std::to_string(i)}, {"handler", "p"}, {"result", "ok"}})));
        f.clock.advance(std::chrono::minutes(30));
    }
    const auto live = f.engine->read([](const auto& m) { return std::pair{m.position(), m.cases().size()}; });
    f.engine.reset();
    f.engine = std::make_unique<engine::Engine>(f.path, f.clock);
    CHECK(f.engine->read([](const auto& m) { return std::pair{m.position(), m.cases().size()}; }) == live);
    engine::StoreReader reader(f.path);
    auto prefix = engine::fold(reader, 12);
    CHECK(prefix.position() == 12);
    CHECK(prefix.cases().size() == 2); // positions 10 and 12 report, 11 handles
}
}

TEST_CASE("event ids of the engine's own time-outs are reserved") {
    EngineFixture f;
    f.small_town();
    auto r = f.post(with_id(report("a"), "timeout-a-v1"), "p-1");
    REQUIRE(!r);
    CHECK(r.error().code == errc::unprocessable);
    CHECK(r.error().message.find("engine's own") != std::string::npos);
    CHECK(f.post(with_id(report("a"), "timeout-a-v1"), "system"));
}

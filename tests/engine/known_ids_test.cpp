// The event ids in memory: the filter never forgets an id, the scan of a stored log, and the writer
// that answers the retry check of a new id without reading the log.
#include "engine/known_ids.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <thread>

using namespace gridloop;
using nlohmann::json;
using testing::EngineFixture;

namespace {

std::string id_of(const char* prefix, int i) { return std::string(prefix) + "-" + std::to_string(i); }

// Posts through the writer thread (as the HTTP API does) and waits for the answer.
events::Result<engine::Appended> submit(EngineFixture& f, const json& j) {
    std::promise<events::Result<engine::Appended>> answer;
    auto done = answer.get_future();
    f.engine->submit(engine::Submission{{*events::decode_posted(j)}, "admin"},
                     [&answer](events::Result<engine::Appended> r) { answer.set_value(std::move(r)); });
    return done.get();
}

// Posts new events until one is answered without reading the log: the stored ids are known then.
bool wait_until_known(EngineFixture& f, int& counter) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        const auto before = f.engine->stats().id_lookups.load();
        json j = EngineFixture::report(id_of("wait", counter));
        j["event_id"] = id_of("wait-event", counter++);
        if (!submit(f, j)) return false;
        if (f.engine->stats().id_lookups.load() == before) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

} // namespace

TEST_SUITE("engine") {
TEST_CASE("IdFilter: every id added is kept, and few absent ones are taken for present") {
    engine::IdFilter filter(20'000);
    for (int i = 0; i < 20'000; ++i) filter.add(id_of("phone-7", i));
    CHECK(filter.size() == 20'000);
    for (int i = 0; i < 20'000; ++i) REQUIRE(filter.may_contain(id_of("phone-7", i)));
    int wrong = 0;
    for (int i = 0; i < 100'000; ++i) wrong += filter.may_contain(id_of("phone-8", i));
    CHECK(wrong < 3'000); // about 1 % at capacity
    CHECK(wrong > 0);     // a filter that says "maybe" to nothing would have lost ids

    engine::IdFilter tiny(0); // one block still
    tiny.add("a");
    CHECK(tiny.may_contain("a"));
}

TEST_CASE("KnownIds: maybe for everything until the log is scanned, then what is stored or added") {
    EngineFixture f;
    f.small_town();
    for (int i = 0; i < 300; ++i) {
        json j = EngineFixture::report(id_of("case", i));
        j["event_id"] = id_of("stored", i);
        REQUIRE(f.post(j));
    }
    engine::KnownIds ids;
    CHECK(ids.may_contain("anything")); // not scanned: every id may be stored
    ids.add("added-before-the-scan");
    ids.load(f.path);
    ids.load(f.path); // once
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!ids.ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    REQUIRE(ids.ready());
    for (int i = 0; i < 300; ++i) REQUIRE(ids.may_contain(id_of("stored", i)));
    CHECK(ids.may_contain("added-before-the-scan"));
    for (int i = 0; i < 200'000; ++i) ids.add(id_of("added", i)); // past the first filter's capacity: more of them
    for (int i = 0; i < 200'000; i += 997) REQUIRE(ids.may_contain(id_of("added", i)));
    int wrong = 0;
    for (int i = 0; i < 10'000; ++i) wrong += ids.may_contain(id_of("never", i));
    CHECK(wrong < 500);
}

TEST_CASE("KnownIds: a missing log is never ready, so every check reads the log") {
    engine::KnownIds ids;
    ids.load("/nonexistent/dir/no.db");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(ids.ready());
    CHECK(ids.may_contain("x"));
}

TEST_CASE("the writer thread reads the log only for ids it may hold, and retries across a restart still find their originals") {
    EngineFixture f;
    f.small_town();
    json first = EngineFixture::report("a");
    first["event_id"] = "phone-1-0001";
    auto original = f.post(first);
    REQUIRE(original);
    f.engine.reset();
    f.engine = std::make_unique<engine::Engine>(f.path, f.clock);
    int counter = 0;
    REQUIRE(wait_until_known(f, counter)); // a new id is answered from memory once the scan is done
    const auto lookups = f.engine->stats().id_lookups.load();

    auto again = submit(f, first); // stored before the restart: the check reads the log and finds it
    REQUIRE(again);
    CHECK_FALSE(again->created);
    CHECK(again->envelopes == original->envelopes);
    CHECK(f.engine->stats().id_lookups.load() == lookups + 1);

    REQUIRE(submit(f, EngineFixture::report("b"))); // no event_id: the engine's own, never checked

    json wait_retry = EngineFixture::report(id_of("wait", 0)); // appended after the restart, perhaps before the scan was done
    wait_retry["event_id"] = id_of("wait-event", 0);
    auto r = submit(f, wait_retry);
    REQUIRE(r);
    CHECK_FALSE(r->created);
    CHECK(f.engine->stats().id_lookups.load() == lookups + 2);
    CHECK(f.engine->head().position == original->envelopes[0].position + counter + 1); // the wait's events and case b only
}
}

// Group commit through the writer thread: answers only once durable and applied, in commit order,
// given without holding up the next commit, and none lost when the engine stops.
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

using namespace gridloop;
using testing::EngineFixture;

namespace {

engine::Submission report_of(const std::string& id, const std::string& actor) {
    return engine::Submission{{*events::decode_posted(EngineFixture::report(id))}, actor, std::nullopt};
}

} // namespace

TEST_SUITE("engine") {
TEST_CASE("group commit: many clients share commits, each answer comes after its commit, in commit order") {
    EngineFixture f;
    f.small_town();
    std::atomic<int> told{0}; // envelopes the observers were told about
    f.engine->on_commit([&](const auto& committed, const auto&) { told += static_cast<int>(committed.size()); });
    const auto commits_before = f.engine->stats().batch_events.count();
    constexpr int clients = 32, per_client = 15;
    std::mutex seen_mutex;
    std::vector<std::int64_t> answered; // positions in the order the answers came
    std::atomic<int> not_durable{0}, not_applied{0}, failed{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < clients; ++t) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_client; ++i) {
                std::promise<void> done;
                f.engine->submit(report_of("c-" + std::to_string(t) + "-" + std::to_string(i), "p-" + std::to_string(t)),
                                 [&](events::Result<engine::Appended> r) {
                                     if (!r) ++failed;
                                     else {
                                         const auto position = r->envelopes.at(0).position;
                                         // Durable: another connection reads it; applied: the model holds it.
                                         if (!engine::StoreReader::for_this_thread(f.path).at(position)) ++not_durable;
                                         if (f.engine->head().position < position) ++not_applied;
                                         std::lock_guard lock(seen_mutex);
                                         answered.push_back(position);
                                     }
                                     done.set_value();
                                 });
                done.get_future().wait();
            }
        });
    }
    for (auto& t : pool) t.join();
    CHECK(failed == 0);
    CHECK(not_durable == 0);
    CHECK(not_applied == 0);
    REQUIRE(answered.size() == static_cast<std::size_t>(clients * per_client));
    CHECK(std::is_sorted(answered.begin(), answered.end()));
    CHECK(std::adjacent_find(answered.begin(), answered.end()) == answered.end());
    CHECK(answered.back() == f.engine->head().position);
    CHECK(told == clients * per_client);
    // Shared commits: far fewer than requests (each client has one request in flight at a time).
    const auto commits = f.engine->stats().batch_events.count() - commits_before;
    MESSAGE(clients * per_client << " requests in " << commits << " commits");
    CHECK(commits * 2 <= clients * per_client);
}

TEST_CASE("group commit: the writer commits the next request while an answer is still being given") {
    EngineFixture f;
    f.small_town(); // positions 1..9
    std::promise<void> answering, answered;
    std::atomic<bool> first_ok{false}, second_committed{false};
    f.engine->submit(report_of("first", "p"), [&](events::Result<engine::Appended> r) {
        first_ok = r && r->envelopes.at(0).position == 10;
        answering.set_value();
        // A slow answer (a slow client, a busy thread): the next request is committed meanwhile.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!second_committed && std::chrono::steady_clock::now() < deadline) {
            second_committed = engine::StoreReader::for_this_thread(f.path).head().position >= 11;
            if (!second_committed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        answered.set_value();
    });
    answering.get_future().wait();
    std::promise<events::Result<engine::Appended>> second;
    f.engine->submit(report_of("second", "p"), [&](events::Result<engine::Appended> r) { second.set_value(std::move(r)); });
    answered.get_future().wait();
    CHECK(first_ok);
    CHECK(second_committed);
    auto r = second.get_future().get();
    REQUIRE(r);
    CHECK(r->envelopes.at(0).position == 11);
}

TEST_CASE("group commit: stopping the engine answers every request submitted, refused ones too") {
    EngineFixture f;
    f.small_town();
    std::atomic<int> created{0}, refused{0};
    for (int i = 0; i < 200; ++i) {
        // Every tenth reuses the previous request's event_id for another case: a 409, answered like the rest.
        auto s = report_of("s-" + std::to_string(i), "p");
        s.events[0].event_id = "id-" + std::to_string(i % 10 == 9 ? i - 1 : i);
        f.engine->submit(std::move(s), [&](events::Result<engine::Appended> r) { r ? ++created : ++refused; });
    }
    f.engine.reset(); // joins the writer and the completion thread
    CHECK(created == 180);
    CHECK(refused == 20);
    engine::StoreReader reader(f.path);
    CHECK(reader.head().position == 9 + 180);
}

TEST_CASE("group commit: every answer carries the committed rows, new ones and retries in request order") {
    EngineFixture f;
    f.small_town();
    auto id_json = [](nlohmann::json j, const std::string& id) {
        j["event_id"] = id;
        return j;
    };
    auto with_id = [&](const nlohmann::json& j, const std::string& id) { return *events::decode_posted(id_json(j, id)); };
    REQUIRE(f.post(id_json(EngineFixture::report("old"), "id-old")));
    const nlohmann::json square = {{"type", "Polygon"}, {"coordinates", {{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}}}};
    REQUIRE(f.post(EngineFixture::ev("GridDefined", {{"grid_id", "mb"}, {"name", "mb"}, {"level", "micro"}, {"parent_id", "g"}, {"boundary", square}})));
    // One group: a batch mixing a retry of a stored event and new ones, a retry of an event earlier in
    // the same group, and a report routed by location (the stored data gains its grid_id).
    std::vector<engine::Submission> requests;
    requests.push_back({{with_id(EngineFixture::report("a"), "id-a"), with_id(EngineFixture::report("old"), "id-old"),
                         with_id(EngineFixture::report("b"), "id-b")},
                        "admin"});
    requests.push_back({{with_id(EngineFixture::report("a"), "id-a")}, "admin"});
    auto located = EngineFixture::report("c");
    located["data"].erase("grid_id");
    located["data"]["location"] = {{"lat", 0.5}, {"lng", 0.5}};
    requests.push_back({{with_id(located, "id-c")}, "admin"});
    const auto results = f.engine->append_many(std::move(requests));
    REQUIRE(results.size() == 3);
    engine::StoreReader reader(f.path);
    auto stored = [&](const events::RawEnvelope& e) { return reader.at(e.position) == e; };
    REQUIRE(results[0]);
    CHECK(results[0]->created);
    REQUIRE(results[0]->envelopes.size() == 3);
    CHECK(results[0]->envelopes[0].event_id == "id-a");
    CHECK(results[0]->envelopes[1].event_id == "id-old");
    CHECK(results[0]->envelopes[2].event_id == "id-b");
    for (const auto& e : results[0]->envelopes) CHECK(stored(e));
    REQUIRE(results[1]);
    CHECK_FALSE(results[1]->created);
    CHECK(results[1]->envelopes == std::vector{results[0]->envelopes[0]});
    REQUIRE(results[2]);
    CHECK(stored(results[2]->envelopes.at(0)));
    CHECK(results[2]->envelopes[0].data.find("\"grid_id\":\"mb\"") != std::string::npos);
}
}

TEST_SUITE("engine") {
TEST_CASE("group commit: a reader holding the model delays applying, not the commit of a group decided") {
    EngineFixture f;
    f.small_town();
    auto submit = [&](const nlohmann::json& j) {
        auto answer = std::make_shared<std::promise<events::Result<engine::Appended>>>();
        auto future = answer->get_future();
        f.engine->submit(engine::Submission{{*events::decode_posted(j)}, "admin", std::nullopt},
                         [answer](events::Result<engine::Appended> r) { answer->set_value(std::move(r)); });
        return future;
    };
    const std::int64_t p0 = f.engine->head().position;
    // A reader holds the model's shared lock: the writer cannot apply meanwhile, while the committer
    // still commits what the writer decided.
    std::promise<void> holding, release;
    auto released = release.get_future().share();
    std::thread reader([&] {
        f.engine->read([&](const projections::Model&) {
            holding.set_value();
            released.wait();
        });
    });
    holding.get_future().wait();
    const engine::StoreReader log(f.path);
    auto committed_to = [&](std::int64_t position) { // waits until the log holds `position`
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (log.head().position < position && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return log.head().position;
    };
    auto reported = submit(EngineFixture::report("a"));
    REQUIRE(committed_to(p0 + 1) == p0 + 1); // a group of its own, committed and not applied
    auto handled = submit(EngineFixture::ev("IssueHandled", {{"case_id", "a"}, {"handler", "p"}, {"result", "ok"}}));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(f.engine->head().position == p0); // nothing applied yet, so nothing answered
    CHECK(reported.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
    release.set_value();
    reader.join();
    const auto r1 = reported.get(), r2 = handled.get();
    REQUIRE(r1);
    REQUIRE_MESSAGE(r2, r2.error().message);
    CHECK(r2->envelopes[0].position == r1->envelopes[0].position + 1);
    CHECK(r2->envelopes[0].prev_hash == r1->envelopes[0].hash);
    CHECK(r2->envelopes[0].version == 2);
    CHECK(f.engine->read([](const projections::Model& m) { return m.find_case("a")->version; }) == 2);
}
}

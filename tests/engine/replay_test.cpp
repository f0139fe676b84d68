// The pipelined decoded scan: the same envelopes as a plain scan, in order; early stops; broken chains,
// undecodable rows and exceptions from the fold reported at their position without hanging.
#include "engine/replay.hpp"
#include "engine/store.hpp"
#include "tests/support/temp_db.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

using gridloop::engine::ReplayOptions;
using gridloop::engine::scan_decoded;
using gridloop::engine::Store;
using gridloop::engine::StoreReader;
using gridloop::events::Envelope;
using gridloop::events::RawEnvelope;
using gridloop::testing::TempDb;
using nlohmann::json;
namespace events = gridloop::events;

// A log of n real events (reports and members reporting in), chained as the engine writes them.
void write_log(const std::string& path, int n) {
    Store store(path);
    std::vector<RawEnvelope> rows;
    std::string prev = events::zero_hash();
    for (int p = 1; p <= n; ++p) {
        RawEnvelope r;
        r.position = p;
        if (p % 3 == 0) {
            r.type = "MemberReportedIn";
            r.data = events::canonical_json({{"member_id", "mb-" + std::to_string(p)}, {"grid_id", "m-" + std::to_string(p % 7)}});
            r.stream = "member-mb-" + std::to_string(p);
        } else {
            r.type = "IssueReported";
            r.data = events::canonical_json({{"case_id", "c-" + std::to_string(p)},
                                             {"category", "parking"},
                                             {"description", "第" + std::to_string(p) + "号: \"quoted\"\n"},
                                             {"source", "patrol"},
                                             {"location", {{"lat", 32.0 + p * 1e-6}, {"lng", 119.5 - p * 1e-7}}}});
            r.stream = "case-c-" + std::to_string(p);
        }
        r.version = 1;
        r.event_id = "e-" + std::to_string(p);
        r.occurred_at = "2026-11-21T01:14:00.000Z";
        r.recorded_at = "2026-11-21T01:14:00." + std::to_string(100 + p % 900) + "Z";
        r.actor = "p-001";
        r.prev_hash = prev;
        r.hash = events::chain_hash(r);
        prev = r.hash;
        rows.push_back(std::move(r));
        if (rows.size() == 1000 || p == n) {
            store.append(rows);
            rows.clear();
        }
    }
}

// Changes the file behind the store's back, as an attacker or a damaged disk would.
void tamper(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const std::string all = "DROP TRIGGER IF EXISTS events_no_update; " + sql;
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, all.c_str(), nullptr, nullptr, &msg);
    const std::string error = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(db);
    REQUIRE_MESSAGE(rc == SQLITE_OK, error);
}

// The options that exercise each path: the calling thread alone, and the reader thread with batches
// so small that a short log crosses many of them and the queue fills.
std::vector<std::pair<std::string, ReplayOptions>> variants() {
    ReplayOptions inline_only;
    inline_only.threaded_from = INT64_MAX;
    ReplayOptions tiny;
    tiny.batch_rows = 7;
    tiny.queue_batches = 2;
    tiny.threaded_from = 0;
    ReplayOptions defaults;
    defaults.threaded_from = 0;
    return {{"calling thread", inline_only}, {"tiny batches", tiny}, {"default batches", defaults}};
}

// Every envelope scan_decoded hands over, encoded again as a stored row.
struct Seen {
    std::vector<RawEnvelope> encoded;
    bool operator()(const Envelope& e) {
        encoded.push_back(events::to_raw(e));
        return true;
    }
};

std::vector<RawEnvelope> plain_scan(const StoreReader& store, std::int64_t after, std::int64_t last) {
    std::vector<RawEnvelope> out;
    store.scan(after, last, [&](const RawEnvelope& r) {
        out.push_back(r);
        return true;
    });
    return out;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(nothing thrown)";
}

} // namespace

TEST_SUITE("engine") {
TEST_CASE("scan_decoded hands over the same envelopes as scan, in order, decoded") {
    TempDb db("replay-same");
    write_log(db.path(), 2500);
    StoreReader store(db.path());
    for (const auto& [name, options] : variants()) {
        CAPTURE(name);
        for (auto [after, last] : {std::pair<std::int64_t, std::int64_t>{0, 2500}, {0, 9999}, {100, 1234}, {2499, 2500}, {7, 7}, {2500, 3000}}) {
            CAPTURE(after);
            CAPTURE(last);
            Seen seen;
            scan_decoded(store, after, last, std::ref(seen), options);
            const auto expected = plain_scan(store, after, last);
            // The decoded envelope is the stored row's event: encoding it again gives the row back.
            CHECK(seen.encoded.size() == expected.size());
            CHECK(seen.encoded == expected);
        }
    }
    // The first row of a range must continue the hash it is given.
    ReplayOptions wrong;
    wrong.prev_hash = std::string(64, 'f');
    wrong.threaded_from = 0;
    CHECK(message_of([&] { scan_decoded(store, 10, 20, Seen{}, wrong); }) ==
          "position 11: the hash chain is broken (run `gridloop verify`)");
}

TEST_CASE("scan_decoded stops when f returns false") {
    TempDb db("replay-stop");
    write_log(db.path(), 3000);
    StoreReader store(db.path());
    for (const auto& [name, options] : variants()) {
        CAPTURE(name);
        for (std::int64_t stop_at : {1, 6, 7, 8, 1500, 2999, 3000}) {
            CAPTURE(stop_at);
            std::vector<std::int64_t> positions;
            scan_decoded(
                store, 0, 3000,
                [&](const Envelope& e) {
                    positions.push_back(e.position);
                    return e.position < stop_at;
                },
                options);
            REQUIRE(positions.size() == static_cast<std::size_t>(stop_at));
            CHECK(positions.front() == 1);
            CHECK(positions.back() == stop_at);
        }
    }
}

TEST_CASE("scan_decoded reports a broken chain at its position, after the rows before it") {
    TempDb db("replay-chain");
    write_log(db.path(), 2000);
    // Row 1234 claims another predecessor.
    tamper(db.path(), "UPDATE events SET prev_hash = '" + std::string(64, 'a') + "' WHERE position = 1234");
    StoreReader store(db.path());
    for (const auto& [name, options] : variants()) {
        CAPTURE(name);
        std::int64_t last_seen = 0;
        const auto what = message_of([&] {
            scan_decoded(
                store, 0, 2000,
                [&](const Envelope& e) {
                    CHECK(e.position == last_seen + 1);
                    last_seen = e.position;
                    return true;
                },
                options);
        });
        CHECK(what == "position 1234: the hash chain is broken (run `gridloop verify`)");
        CHECK(last_seen == 1233);
    }
}

TEST_CASE("scan_decoded reports a row that does not decode with its position") {
    TempDb db("replay-decode");
    write_log(db.path(), 2000);
    StoreReader store(db.path());
    const std::vector<std::pair<std::string, std::string>> damage = {
        {"data = '{not json'", "position 1501: stored data is not JSON"},
        {"data = replace(data, '\"patrol\"', '\"twitter\"')", "position 1501: data.source: \"twitter\" is not one of"},
        {"recorded_at = 'yesterday'", "position 1501: stored times are not RFC 3339"},
        {"type = 'CaseOpened'", "position 1501: type: \"CaseOpened\" is not an event type"},
    };
    for (const auto& [set, message] : damage) {
        CAPTURE(set);
        TempDb copy("replay-decode-copy");
        store.backup(copy.path());
        tamper(copy.path(), "UPDATE events SET " + set + " WHERE position = 1501");
        StoreReader damaged(copy.path());
        for (const auto& [name, options] : variants()) {
            CAPTURE(name);
            std::int64_t last_seen = 0;
            const auto what = message_of([&] {
                scan_decoded(
                    damaged, 0, 2000,
                    [&](const Envelope& e) {
                        last_seen = e.position;
                        return true;
                    },
                    options);
            });
            CHECK_MESSAGE(what.rfind(message, 0) == 0, what);
            CHECK(last_seen == 1500);
        }
    }
}

TEST_CASE("an exception thrown by f reaches the caller and the reader stops") {
    TempDb db("replay-throw");
    write_log(db.path(), 3000);
    StoreReader store(db.path());
    for (const auto& [name, options] : variants()) {
        CAPTURE(name);
        // Again and again, to give the reader thread every chance to be caught waiting.
        for (int round = 0; round < 20; ++round) {
            const std::int64_t throw_at = 1 + (round * 397) % 3000;
            CAPTURE(throw_at);
            std::int64_t calls = 0;
            const auto what = message_of([&] {
                scan_decoded(
                    store, 0, 3000,
                    [&](const Envelope& e) -> bool {
                        ++calls;
                        if (e.position == throw_at) throw std::logic_error("fold failed at " + std::to_string(e.position));
                        return true;
                    },
                    options);
            });
            CHECK(what == "fold failed at " + std::to_string(throw_at));
            CHECK(calls == throw_at);
        }
    }
    // f may read the store it was given while the scan runs: the reader thread has its own connection.
    std::int64_t heads = 0;
    ReplayOptions threaded;
    threaded.threaded_from = 0;
    scan_decoded(
        store, 0, 3000,
        [&](const Envelope& e) {
            if (e.position % 500 == 0) heads += store.head().position;
            return true;
        },
        threaded);
    CHECK(heads == 6 * 3000);
}
}

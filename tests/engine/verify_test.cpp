// Chain verification: a good log passes; tampering with a row, its type, or deleting one is found where it happened.
#include "engine/store.hpp"
#include "engine/verify.hpp"
#include "tests/support/temp_db.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gridloop::engine::Store;
using gridloop::engine::StoreReader;
using gridloop::engine::verify;
using gridloop::events::RawEnvelope;

using gridloop::testing::TempDb;

// Sets positions 1, 2, ..., prev_hash and hash along the vector, as a correct writer would.
void link(std::vector<RawEnvelope>& log) {
    std::string prev = gridloop::events::zero_hash();
    for (std::size_t i = 0; i < log.size(); ++i) {
        log[i].position = static_cast<std::int64_t>(i + 1);
        log[i].prev_hash = prev;
        log[i].hash = gridloop::events::chain_hash(log[i]);
        prev = log[i].hash;
    }
}

// n envelopes over `streams` streams with versions 1, 2, ... each.
std::vector<RawEnvelope> make_log(int n, int streams = 5) {
    std::vector<RawEnvelope> log;
    std::map<std::string, std::int64_t> versions;
    for (int i = 1; i <= n; ++i) {
        RawEnvelope r;
        r.stream = "case-c" + std::to_string(i % streams);
        r.version = ++versions[r.stream];
        r.event_id = "e-" + std::to_string(i);
        r.type = "CaseOpened";
        r.occurred_at = r.recorded_at = "2026-11-21T01:14:00.000Z";
        r.actor = "p-001";
        r.data = R"({"case_id":"c)" + std::to_string(i % streams) + "\"}";
        log.push_back(std::move(r));
    }
    link(log);
    return log;
}

void write_log(const std::string& path, const std::vector<RawEnvelope>& log) {
    Store store(path);
    store.append(log);
}

// What an attacker with the sqlite3 shell does: drop the triggers, then run sql.
void tamper(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    char* msg = nullptr;
    const std::string all = "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete; " + sql;
    const int rc = sqlite3_exec(db, all.c_str(), nullptr, nullptr, &msg);
    const std::string message = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(db);
    REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << message);
}

// Rewrites the table's declaration so that columns lose their types and a value of any storage
// class fits: the only way to store version as text or actor as a blob in a STRICT table.
void loosen_schema(const std::string& path) {
    tamper(path, "PRAGMA writable_schema=ON; "
                 "UPDATE sqlite_schema SET sql = replace(replace(replace(sql, 'version INTEGER', 'version'), "
                 "'actor TEXT', 'actor'), ') STRICT', ')') WHERE name = 'events'; "
                 "PRAGMA writable_schema=OFF;");
}

} // namespace

TEST_SUITE("engine") {

TEST_CASE("verify: a good log passes, whole or in part") {
    TempDb db("good");
    {
        Store empty(db.path());
        const auto r = verify(empty);
        CHECK(r.ok);
        CHECK(r.checked == 0);
    }
    const auto log = make_log(40);
    write_log(db.path(), log);
    StoreReader reader(db.path());

    std::vector<std::pair<std::int64_t, std::int64_t>> calls;
    const auto all = verify(reader, 1, 0, [&](std::int64_t done, std::int64_t total) { calls.emplace_back(done, total); });
    CHECK(all.ok);
    CHECK(all.checked == 40);
    CHECK_FALSE(all.first_bad_position);
    CHECK(all.problem.empty());
    REQUIRE_FALSE(calls.empty());
    CHECK(calls.back() == std::pair<std::int64_t, std::int64_t>{40, 40});

    const auto part = verify(reader, 11, 20);
    CHECK(part.ok);
    CHECK(part.checked == 10);
    CHECK(verify(reader, 40).checked == 1);
    CHECK(verify(reader, 41).checked == 0);

    const auto beyond = verify(reader, 1, 45);
    CHECK_FALSE(beyond.ok);
    CHECK(beyond.first_bad_position == 41);
    CHECK(beyond.problem == "position 41: missing (the log ends at 40)");
}

TEST_CASE("verify: tampering with one byte is found at its position") {
    TempDb db("tamper");
    const auto log = make_log(40);
    write_log(db.path(), log);

    std::int64_t k = 17;
    std::string sql, problem;
    SUBCASE("data") {
        SUBCASE("at the first position") { k = 1; }
        SUBCASE("in the middle") { k = 17; }
        SUBCASE("at the head") { k = 40; }
        sql = "UPDATE events SET data = replace(data, 'case_id', 'case_ie') WHERE position = ";
        problem = "hash does not match its content";
    }
    SUBCASE("actor") {
        sql = "UPDATE events SET actor = 'p-002' WHERE position = ";
        problem = "hash does not match its content";
    }
    SUBCASE("hash") {
        sql = "UPDATE events SET hash = substr(hash, 1, 63) || "
              "CASE substr(hash, 64, 1) WHEN '0' THEN '1' ELSE '0' END WHERE position = ";
        problem = "hash does not match its content";
    }
    SUBCASE("prev_hash") {
        SUBCASE("at the first position") {
            k = 1;
            problem = "prev_hash is not the zero hash";
        }
        SUBCASE("in the middle") { problem = "prev_hash does not match the hash of position 16"; }
        sql = "UPDATE events SET prev_hash = substr(prev_hash, 1, 63) || "
              "CASE substr(prev_hash, 64, 1) WHEN '0' THEN '1' ELSE '0' END WHERE position = ";
    }
    CAPTURE(k);
    REQUIRE(verify(StoreReader(db.path())).ok);
    tamper(db.path(), sql + std::to_string(k));

    const auto r = verify(StoreReader(db.path()));
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_position == k);
    CHECK(r.checked == k);
    CHECK(r.problem == "position " + std::to_string(k) + ": " + problem);
    // Rows before k still verify on their own.
    if (k > 1) CHECK(verify(StoreReader(db.path()), 1, k - 1).ok);
}

TEST_CASE("verify: starting past position 1 takes the stored hash before the range") {
    TempDb db("from");
    write_log(db.path(), make_log(30));
    tamper(db.path(), "UPDATE events SET hash = replace(hash, substr(hash, 1, 1), "
                      "CASE substr(hash, 1, 1) WHEN 'a' THEN 'b' ELSE 'a' END) WHERE position = 12");
    StoreReader reader(db.path());
    CHECK(verify(reader, 13).ok == false);
    CHECK(verify(reader, 13).first_bad_position == 13);
    CHECK(verify(reader, 14).ok);
    CHECK(verify(reader, 1).first_bad_position == 12);
}

TEST_CASE("verify: a value rewritten with another storage class is caught although it hashes alike") {
    TempDb db("types");
    write_log(db.path(), make_log(20, 1)); // one stream: position 3 has version 3
    loosen_schema(db.path());
    std::string problem;
    SUBCASE("version as text") {
        tamper(db.path(), "UPDATE events SET version = '3' WHERE position = 3");
        problem = "position 3: version is stored as text, not integer";
    }
    SUBCASE("actor as a blob") {
        tamper(db.path(), "UPDATE events SET actor = CAST(actor AS BLOB) WHERE position = 3");
        problem = "position 3: actor is stored as blob, not text";
    }
    StoreReader reader(db.path());
    // Read as strings, the row is unchanged: only the storage class tells.
    const auto row = reader.at(3);
    REQUIRE(row);
    CHECK(gridloop::events::chain_hash(*row) == row->hash);

    const auto r = verify(reader);
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_position == 3);
    CHECK(r.problem == problem);
}

TEST_CASE("verify: a deleted row is a gap at its position") {
    TempDb db("gap");
    write_log(db.path(), make_log(30));
    tamper(db.path(), "DELETE FROM events WHERE position = 9");
    StoreReader reader(db.path());
    const auto r = verify(reader);
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_position == 9);
    CHECK(r.checked == 8);
    CHECK(r.problem == "position 9: missing (the log jumps from 8 to 10)");
    CHECK(verify(reader, 10).first_bad_position == 9); // the row before the range is gone
    CHECK(verify(reader, 11).ok);
}

TEST_CASE("verify: stream versions and recorded_at follow the contract") {
    TempDb db("contract");
    auto log = make_log(12, 3);
    std::string problem;
    SUBCASE("a stream skips a version") {
        // Positions 1, 4, 7, 10 are stream case-c1: make its versions 1, 2, 4, 5.
        log[6].version = 4;
        log[9].version = 5;
        problem = "position 7: version 4 of stream case-c1 follows version 2";
    }
    SUBCASE("a stream does not start at version 1") {
        for (auto& r : log)
            if (r.stream == "case-c1") ++r.version;
        problem = "position 1: version 2 of stream case-c1 is its first (expected 1)";
    }
    SUBCASE("recorded_at goes back") {
        log[6].recorded_at = "2026-11-21T01:13:59.999Z";
        problem = "position 7: recorded_at 2026-11-21T01:13:59.999Z is before 2026-11-21T01:14:00.000Z of the previous position";
    }
    link(log); // a correct chain over wrong content: only these checks can find it
    write_log(db.path(), log);
    const auto r = verify(StoreReader(db.path()));
    CHECK_FALSE(r.ok);
    CHECK(r.problem == problem);
}

} // TEST_SUITE

// The SQLite event store: append and read back, atomic batches, the chain, opening odd files, crashes.
#include "engine/store.hpp"
#include "engine/verify.hpp"
#include "tests/support/temp_db.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using gridloop::engine::Head;
using gridloop::engine::Store;
using gridloop::engine::StoreError;
using gridloop::engine::StoreReader;
using gridloop::events::RawEnvelope;
using Kind = StoreError::Kind;

using gridloop::testing::TempDb;

// Builds envelopes that continue a chain: positions, per-stream versions, prev_hash and hash.
class Chain {
public:
    RawEnvelope next(const std::string& stream) {
        RawEnvelope r;
        r.position = ++position_;
        r.stream = stream;
        r.version = ++versions_[stream];
        r.event_id = "e-" + std::to_string(r.position);
        r.type = "CaseOpened";
        r.occurred_at = r.recorded_at = "2026-11-21T01:14:00.000Z";
        r.actor = "p-001";
        r.data = R"({"case_id":"c)" + std::to_string(r.position % 5) + "\"}";
        r.prev_hash = prev_;
        r.hash = gridloop::events::chain_hash(r);
        prev_ = r.hash;
        return r;
    }
    // n envelopes spread over five streams.
    std::vector<RawEnvelope> batch(int n) {
        std::vector<RawEnvelope> out;
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) out.push_back(next("case-c" + std::to_string((position_ + 1) % 5)));
        return out;
    }

private:
    std::int64_t position_ = 0;
    std::string prev_ = gridloop::events::zero_hash();
    std::map<std::string, std::int64_t> versions_;
};

// A raw sqlite3 connection, as someone with the sqlite3 shell would use it.
class RawDb {
public:
    explicit RawDb(const std::string& path) {
        const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        REQUIRE_MESSAGE(rc == SQLITE_OK, sqlite3_errstr(rc));
    }
    ~RawDb() { sqlite3_close(db_); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;
    // The result code and error message of running sql.
    std::pair<int, std::string> exec(const std::string& sql) {
        char* msg = nullptr;
        const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
        std::string m = msg ? msg : "";
        sqlite3_free(msg);
        return {rc, m};
    }
    void must(const std::string& sql) {
        const auto [rc, msg] = exec(sql);
        REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << msg);
    }
    std::string text(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
        std::string out;
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
            out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        return out;
    }

private:
    sqlite3* db_ = nullptr;
};

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

template <class F> StoreError::Kind error_kind(F&& f, std::string* message = nullptr) {
    try {
        f();
    } catch (const StoreError& e) {
        if (message) *message = e.what();
        return e.kind();
    }
    FAIL("no StoreError was thrown");
    return Kind::io;
}

std::vector<RawEnvelope> scan_all(const StoreReader& r, std::int64_t after = 0, std::int64_t last = INT64_MAX) {
    std::vector<RawEnvelope> out;
    r.scan(after, last, [&](const RawEnvelope& e) {
        out.push_back(e);
        return true;
    });
    return out;
}

} // namespace

TEST_SUITE("engine") {

TEST_CASE("store: a new file gets the schema, its identity and an empty head") {
    TempDb db("new");
    {
        Store store(db.path());
        CHECK(store.head() == Head{0, gridloop::events::zero_hash(), ""});
        CHECK(store.meta("format") == "gridloop-events");
        CHECK(store.meta("created_by") == "gridloop 0.1");
        CHECK_FALSE(store.meta("nothing"));
        CHECK(scan_all(store).empty());
        CHECK(store.stream_version("case-c1") == 0);

        RawDb raw(db.path());
        CHECK(raw.text("PRAGMA application_id") == std::to_string(gridloop::engine::application_id));
        CHECK(raw.text("PRAGMA user_version") == "1");
        CHECK(raw.text("PRAGMA journal_mode") == "wal");
    }
    StoreReader reader(db.path());
    CHECK(reader.head() == Head{0, gridloop::events::zero_hash(), ""});
}

TEST_CASE("store: appended envelopes read back by position, event_id, stream and scan") {
    TempDb db("readback");
    Store store(db.path());
    Chain chain;
    const auto first = chain.batch(7), second = chain.batch(5);
    store.append(first);
    CHECK(store.head() == Head{7, first.back().hash, first.back().recorded_at});
    const std::span<const RawEnvelope> rest(second);
    const std::span<const RawEnvelope> parts[] = {rest.first(2), {}, rest.subspan(2)};
    store.append_batches(parts); // one transaction, as if one batch
    store.append({}); // an empty batch changes nothing
    std::vector<RawEnvelope> all = first;
    all.insert(all.end(), second.begin(), second.end());

    StoreReader reader(db.path());
    for (const StoreReader* r : std::initializer_list<const StoreReader*>{&store, &reader}) {
        CAPTURE(r == &reader);
        CHECK(r->head() == Head{12, all.back().hash, all.back().recorded_at});
        CHECK(scan_all(*r) == all);
        CHECK(scan_all(*r, 3, 6) == std::vector<RawEnvelope>(all.begin() + 3, all.begin() + 6));
        CHECK(scan_all(*r, 6, 3).empty());
        CHECK(scan_all(*r, 12).empty());

        int seen = 0;
        r->scan(0, INT64_MAX, [&](const RawEnvelope&) { return ++seen < 4; });
        CHECK(seen == 4);

        CHECK(r->at(5) == all[4]);
        CHECK_FALSE(r->at(0));
        CHECK_FALSE(r->at(13));
        CHECK(r->by_event_id("e-9") == all[8]);
        CHECK_FALSE(r->by_event_id("e-99"));

        // Positions 1, 6 and 11 are in stream case-c1, with versions 1, 2, 3.
        const auto c1 = r->stream("case-c1");
        REQUIRE(c1.size() == 3);
        CHECK(c1[0] == all[0]);
        CHECK(c1[1] == all[5]);
        CHECK(c1[2] == all[10]);
        CHECK(r->stream("case-c1", 6).size() == 2);
        CHECK(r->stream("case-none").empty());
        CHECK(r->stream_version("case-c1") == 3);
        CHECK(r->stream_version("case-c2") == 3);
        CHECK(r->stream_version("case-c0") == 2);
        CHECK(r->stream_version("case-none") == 0);
    }
}

TEST_CASE("store: a reader may read the same store from inside a scan") {
    TempDb db("nested");
    Store store(db.path());
    Chain chain;
    store.append(chain.batch(6));
    std::int64_t inner_rows = 0, outer_rows = 0;
    store.scan(0, INT64_MAX, [&](const RawEnvelope& outer) {
        ++outer_rows;
        CHECK(store.at(outer.position)->hash == outer.hash);
        inner_rows += static_cast<std::int64_t>(scan_all(store, outer.position).size());
        return true;
    });
    CHECK(outer_rows == 6);
    CHECK(inner_rows == 5 + 4 + 3 + 2 + 1 + 0);
    CHECK(scan_all(store).size() == 6); // the cached statement was reset after use
}

TEST_CASE("store: a thread's own reader follows the path it is asked for and closes the one before") {
    TempDb a("thread-reader-a"), b("thread-reader-b");
    Chain chain;
    {
        Store store(a.path());
        store.append(chain.batch(3));
        Store other(b.path()); // an empty log
    }
    // The files this process holds open, by path (Linux: /proc/self/fd).
    const auto open_files = [](const std::string& path) {
        int n = 0;
        std::error_code ec;
        for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
            std::error_code link_ec;
            if (std::filesystem::read_symlink(fd.path(), link_ec).string() == path) ++n;
        }
        return n;
    };
    std::thread([&] {
        const auto& first = StoreReader::for_this_thread(a.path());
        CHECK(first.head().position == 3);
        CHECK(&StoreReader::for_this_thread(a.path()) == &first); // kept
        CHECK(open_files(a.path()) >= 1);
        CHECK(StoreReader::for_this_thread(b.path()).head().position == 0);
        CHECK(open_files(a.path()) == 0); // a log read before no longer held open by this thread
        CHECK(StoreReader::for_this_thread(a.path()).head().position == 3);
    }).join();
}

TEST_CASE("store: a failing batch writes nothing") {
    TempDb db("atomic");
    Store store(db.path());
    Chain chain;
    store.append(chain.batch(4));
    const Head before = store.head();

    Chain probe = chain; // a copy continues the same chain
    auto batch = probe.batch(5);
    Kind expected = Kind::conflict;
    std::string wanted;
    SUBCASE("the 3rd has an event_id already stored") {
        batch[2].event_id = "e-2";
        batch[2].hash = gridloop::events::chain_hash(batch[2]);
        for (std::size_t i = 3; i < batch.size(); ++i) {
            batch[i].prev_hash = batch[i - 1].hash;
            batch[i].hash = gridloop::events::chain_hash(batch[i]);
        }
        wanted = "events.event_id";
    }
    SUBCASE("the 3rd repeats an event_id of the batch") {
        batch[2].event_id = batch[0].event_id;
        batch[2].hash = gridloop::events::chain_hash(batch[2]);
        for (std::size_t i = 3; i < batch.size(); ++i) {
            batch[i].prev_hash = batch[i - 1].hash;
            batch[i].hash = gridloop::events::chain_hash(batch[i]);
        }
        wanted = "position 7";
    }
    SUBCASE("the 3rd repeats a stream version") {
        batch[2].stream = "case-c1";
        batch[2].version = 1;
        batch[2].hash = gridloop::events::chain_hash(batch[2]);
        for (std::size_t i = 3; i < batch.size(); ++i) {
            batch[i].prev_hash = batch[i - 1].hash;
            batch[i].hash = gridloop::events::chain_hash(batch[i]);
        }
        wanted = "events.stream, events.version";
    }
    SUBCASE("the 3rd has a wrong position") {
        batch[2].position = 9;
        wanted = "expected position 7";
    }
    SUBCASE("the 3rd breaks the chain") {
        batch[2].prev_hash = batch[0].hash;
        wanted = "prev_hash does not continue the chain";
    }
    SUBCASE("the 3rd has a malformed hash") {
        batch[2].hash = "ABC";
        expected = Kind::invalid;
        wanted = "hash is not 64 lowercase hex digits";
    }
    std::string message;
    CHECK(error_kind([&] { store.append(batch); }, &message) == expected);
    CHECK_MESSAGE(message.find(wanted) != std::string::npos, message);
    // The same batch in two parts of one transaction: the first part is not written either.
    const std::span<const RawEnvelope> whole(batch);
    const std::span<const RawEnvelope> parts[] = {whole.first(2), whole.subspan(2)};
    CHECK(error_kind([&] { store.append_batches(parts); }, &message) == expected);
    CHECK_MESSAGE(message.find(wanted) != std::string::npos, message);

    StoreReader reader(db.path());
    for (const StoreReader* r : std::initializer_list<const StoreReader*>{&store, &reader}) {
        CHECK(r->head() == before);
        CHECK_FALSE(r->at(5));
        CHECK_FALSE(r->by_event_id(batch[0].event_id));
        CHECK(scan_all(*r).size() == 4);
    }
    // The store is still usable and the chain continues from the old head.
    const auto good = chain.batch(5);
    store.append(good);
    CHECK(store.head().hash == good.back().hash);
    CHECK(gridloop::engine::verify(reader).ok);
}

TEST_CASE("store: the chain must continue at the head") {
    TempDb db("continuity");
    Store store(db.path());
    Chain chain;
    auto first = chain.batch(3);
    store.append(first);

    SUBCASE("a batch that starts again at position 1") {
        Chain again;
        CHECK(error_kind([&] { store.append(again.batch(2)); }) == Kind::conflict);
    }
    SUBCASE("a batch that skips a position") {
        Chain copy = chain;
        auto batch = copy.batch(3);
        CHECK(error_kind([&] { store.append(std::span(batch).subspan(1)); }) == Kind::conflict);
    }
    SUBCASE("a first envelope whose prev_hash is not the head's hash") {
        Chain copy = chain;
        auto batch = copy.batch(1);
        batch[0].prev_hash = first[1].hash;
        batch[0].hash = gridloop::events::chain_hash(batch[0]);
        std::string message;
        CHECK(error_kind([&] { store.append(batch); }, &message) == Kind::conflict);
        CHECK(message.find(first[2].hash) != std::string::npos);
    }
    CHECK(store.head().position == 3);
    CHECK(scan_all(StoreReader(db.path())).size() == 3);
}

TEST_CASE("store: events are append-only even through a raw connection") {
    TempDb db("append-only");
    Store store(db.path());
    Chain chain;
    const auto batch = chain.batch(3);
    store.append(batch);

    RawDb raw(db.path());
    const auto [update_rc, update_msg] = raw.exec("UPDATE events SET actor='x'");
    CHECK(update_rc != SQLITE_OK);
    CHECK(update_msg.find("gridloop events are append-only") != std::string::npos);
    const auto [delete_rc, delete_msg] = raw.exec("DELETE FROM events");
    CHECK(delete_rc != SQLITE_OK);
    CHECK(delete_msg.find("gridloop events are append-only") != std::string::npos);
    CHECK(scan_all(store) == batch);
}

TEST_CASE("store: reopening keeps the log, and appends continue the chain") {
    TempDb db("reopen");
    Chain chain;
    const auto first = chain.batch(10);
    { Store(db.path()).append(first); }
    {
        Store store(db.path());
        CHECK(store.head() == Head{10, first.back().hash, first.back().recorded_at});
        store.append(chain.batch(10));
    }
    StoreReader reader(db.path());
    CHECK(reader.head().position == 20);
    const auto all = scan_all(reader);
    REQUIRE(all.size() == 20);
    CHECK(std::vector<RawEnvelope>(all.begin(), all.begin() + 10) == first);
    CHECK(gridloop::engine::verify(reader).ok);
}

TEST_CASE("store: files that are not gridloop databases are refused and left as they were") {
    TempDb db("foreign");
    std::string wanted = "is not a gridloop database";
    Kind expected = Kind::foreign;
    SUBCASE("random bytes") {
        std::mt19937 gen(42);
        std::string bytes(8192, '\0');
        for (auto& b : bytes) b = static_cast<char>(gen());
        std::ofstream(db.path(), std::ios::binary) << bytes;
        wanted = "file is not a database";
    }
    SUBCASE("a SQLite file of another application") {
        RawDb(db.path()).must("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
        wanted = "tables customers";
    }
    SUBCASE("a SQLite file with another application_id") {
        RawDb(db.path()).must("PRAGMA application_id=1234");
        wanted = "application_id 1234";
    }
    SUBCASE("a SQLite file with an events table but no gridloop application_id") {
        RawDb(db.path()).must("CREATE TABLE events(position INTEGER PRIMARY KEY)");
    }
    SUBCASE("a newer gridloop schema") {
        { Store(db.path()).append(Chain().batch(2)); }
        RawDb(db.path()).must("PRAGMA user_version=2");
        expected = Kind::too_new;
        wanted = "written by a newer gridloop: schema 2, this build reads 1";
    }
    const std::string before = file_bytes(db.path());
    std::string message;
    CHECK(error_kind([&] { Store s(db.path()); }, &message) == expected);
    CHECK_MESSAGE(message.find(wanted) != std::string::npos, message);
    CHECK(message.find(db.path()) != std::string::npos);
    CHECK(error_kind([&] { StoreReader r(db.path()); }, &message) == expected);
    CHECK_MESSAGE(message.find(wanted) != std::string::npos, message);
    CHECK(file_bytes(db.path()) == before);
}

TEST_CASE("store: a reader needs an existing, non-empty gridloop file") {
    TempDb db("missing");
    std::string message;
    CHECK(error_kind([&] { StoreReader r(db.path()); }, &message) == Kind::io);
    CHECK(message == db.path() + " does not exist");
    CHECK_FALSE(fs::exists(db.path()));
    std::ofstream(db.path()).close(); // an empty file is an empty SQLite database
    CHECK(error_kind([&] { StoreReader r(db.path()); }, &message) == Kind::foreign);
    CHECK(message.find("(it is empty)") != std::string::npos);
    Store store(db.path()); // a writer makes it a gridloop database
    CHECK(StoreReader(db.path()).head().position == 0);
}

TEST_CASE("store: a read-only file still reads, and an append fails as readonly") {
    TempDb db("readonly");
    Chain chain;
    { Store(db.path()).append(chain.batch(5)); }
    fs::permissions(db.path(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);

    // Root ignores file modes, so the check runs in a child that drops to nobody when needed.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
        try {
            Store store(db.path());
            if (store.head().position != 5) ::_exit(2);
            if (!store.at(3) || !gridloop::engine::verify(store).ok) ::_exit(3);
            try {
                store.append(chain.batch(1));
                ::_exit(4);
            } catch (const StoreError& e) {
                if (e.kind() != Kind::readonly) {
                    std::fprintf(stderr, "append on a read-only file: %s\n", e.what());
                    ::_exit(5);
                }
            }
            if (StoreReader(db.path()).head().position != 5) ::_exit(6);
            ::_exit(0);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "read-only store: %s\n", e.what());
            ::_exit(7);
        }
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    // 2 head, 3 reads, 4 append succeeded, 5 wrong kind, 6 reader, 7 open failed, 10 no setuid
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("store: a writer killed in the middle of a huge append leaves the last committed batch") {
    TempDb db("crash");
    constexpr int batches = 10, batch_size = 100;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        try {
            Store store(db.path());
            Chain chain;
            for (int b = 0; b < batches; ++b) store.append(chain.batch(batch_size));
            const auto big = chain.batch(200'000);
            if (::write(fds[1], "B", 1) != 1) ::_exit(2);
            store.append(big);
            if (::write(fds[1], "D", 1) != 1) ::_exit(3);
            ::_exit(0);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "crash child: %s\n", e.what());
            ::_exit(4);
        }
    }
    ::close(fds[1]);
    char c = 0;
    REQUIRE(::read(fds[0], &c, 1) == 1);
    REQUIRE(c == 'B');
    const std::string wal = db.path() + "-wal";
    std::error_code ec;
    const auto wal_committed = fs::file_size(wal, ec);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // Kill once the WAL holds uncommitted frames of the big batch (SQLite spills them as its cache fills).
    int status = 0;
    bool exited = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (fs::file_size(wal, ec) < wal_committed + (1u << 20) && std::chrono::steady_clock::now() < deadline) {
        if ((exited = ::waitpid(pid, &status, WNOHANG) == pid)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(pid, SIGKILL);
    if (!exited) REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child finished before it was killed");
    CHECK(::read(fds[0], &c, 1) == 0); // the big append never returned
    ::close(fds[0]);
    const auto wal_killed = fs::file_size(wal, ec);
    INFO("WAL: " << wal_committed << " bytes committed, " << wal_killed << " bytes when the writer was killed");
    CHECK(wal_killed > wal_committed); // uncommitted frames were on disk when the writer died

    // The same chain, built again here, says what was committed.
    Chain chain;
    std::vector<RawEnvelope> committed;
    for (int b = 0; b < batches; ++b) {
        auto batch = chain.batch(batch_size);
        committed.insert(committed.end(), batch.begin(), batch.end());
    }
    Store store(db.path());
    CHECK(store.head() == Head{batches * batch_size, committed.back().hash, committed.back().recorded_at});
    CHECK(scan_all(store) == committed);
    const auto result = gridloop::engine::verify(store);
    CHECK_MESSAGE(result.ok, result.problem);
    CHECK(result.checked == batches * batch_size);

    const auto more = chain.batch(50);
    store.append(more);
    CHECK(store.head().position == batches * batch_size + 50);
    CHECK(gridloop::engine::verify(StoreReader(db.path())).ok);
}

TEST_CASE("store: scan throughput on 1M rows" * doctest::skip()) {
    TempDb db("throughput");
    constexpr int rows = 1'000'000;
    {
        Store store(db.path());
        Chain chain;
        for (int i = 0; i < rows / 10'000; ++i) store.append(chain.batch(10'000));
    }
    StoreReader reader(db.path());
    std::size_t bytes = 0;
    std::int64_t count = 0;
    const auto start = std::chrono::steady_clock::now();
    reader.scan(0, INT64_MAX, [&](const RawEnvelope& r) {
        bytes += r.data.size() + r.hash.size();
        ++count;
        return true;
    });
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    CHECK(count == rows);
    MESSAGE("scan: " << count << " rows in " << took.count() << " s = " << static_cast<double>(count) / took.count()
                     << " rows/s (" << bytes << " bytes)");
}

} // TEST_SUITE

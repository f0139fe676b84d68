// When the disk fills, fsync fails or the file is read-only: appends fail whole as `unavailable`
// (503), nothing reaches the model or the observers, reads go on, the writer survives, and writes
// resume when the fault clears. The faults come from a SQLite VFS shim, so SQLite's own error and
// recovery paths run, not a mock of them.
#include "engine/verify.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <string_view>
#include <thread>

using namespace gridloop;
using events::errc;
using nlohmann::json;
using testing::EngineFixture;

namespace {

// ---- the shim: the default VFS, with a fault switched on for the files of one database ----

enum class Fault { none, full, fsync, readonly };

struct FaultState {
    std::atomic<Fault> fault{Fault::none};
    std::atomic<int> passes{0};        // calls that still succeed before the fault bites (writes for full, syncs for fsync)
    std::atomic<int> sync_delay_ms{0}; // every sync of the database's files takes this long first (a slow disk)
    std::string target;                // the database path; its -wal and -shm share the prefix
    sqlite3_vfs* real = nullptr;
    sqlite3_vfs vfs{};
};
FaultState faults;

// SQLite allocates szOsFile bytes per file: this header, then the real VFS's file.
struct ShimFile {
    sqlite3_file base;
    const char* name; // valid until xClose (SQLite guarantees it)
};
sqlite3_file* real_file(sqlite3_file* f) { return reinterpret_cast<sqlite3_file*>(reinterpret_cast<ShimFile*>(f) + 1); }
bool targeted(const char* name) { return name && !faults.target.empty() && std::string_view(name).starts_with(faults.target); }
bool failing(sqlite3_file* f, Fault which) {
    return faults.fault == which && targeted(reinterpret_cast<ShimFile*>(f)->name) && faults.passes-- <= 0;
}

#define GRIDLOOP_FORWARD(method, ...) real_file(f)->pMethods->method(real_file(f) __VA_OPT__(, ) __VA_ARGS__)
int x_close(sqlite3_file* f) { return GRIDLOOP_FORWARD(xClose); }
int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 at) { return GRIDLOOP_FORWARD(xRead, p, n, at); }
int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 at) {
    if (failing(f, Fault::full)) return SQLITE_FULL;
    return GRIDLOOP_FORWARD(xWrite, p, n, at);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) { return GRIDLOOP_FORWARD(xTruncate, size); }
int x_sync(sqlite3_file* f, int flags) {
    if (faults.sync_delay_ms > 0 && targeted(reinterpret_cast<ShimFile*>(f)->name))
        std::this_thread::sleep_for(std::chrono::milliseconds(faults.sync_delay_ms));
    if (failing(f, Fault::fsync)) return SQLITE_IOERR_FSYNC;
    return GRIDLOOP_FORWARD(xSync, flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) { return GRIDLOOP_FORWARD(xFileSize, size); }
int x_lock(sqlite3_file* f, int level) { return GRIDLOOP_FORWARD(xLock, level); }
int x_unlock(sqlite3_file* f, int level) { return GRIDLOOP_FORWARD(xUnlock, level); }
int x_check_reserved_lock(sqlite3_file* f, int* out) { return GRIDLOOP_FORWARD(xCheckReservedLock, out); }
int x_file_control(sqlite3_file* f, int op, void* arg) { return GRIDLOOP_FORWARD(xFileControl, op, arg); }
int x_sector_size(sqlite3_file* f) { return GRIDLOOP_FORWARD(xSectorSize); }
int x_device_characteristics(sqlite3_file* f) { return GRIDLOOP_FORWARD(xDeviceCharacteristics); }
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** p) { return GRIDLOOP_FORWARD(xShmMap, region, size, extend, p); }
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) { return GRIDLOOP_FORWARD(xShmLock, offset, n, flags); }
void x_shm_barrier(sqlite3_file* f) { GRIDLOOP_FORWARD(xShmBarrier); }
int x_shm_unmap(sqlite3_file* f, int delete_flag) { return GRIDLOOP_FORWARD(xShmUnmap, delete_flag); }
int x_fetch(sqlite3_file* f, sqlite3_int64 at, int n, void** p) { return GRIDLOOP_FORWARD(xFetch, at, n, p); }
int x_unfetch(sqlite3_file* f, sqlite3_int64 at, void* p) { return GRIDLOOP_FORWARD(xUnfetch, at, p); }
#undef GRIDLOOP_FORWARD

const sqlite3_io_methods shim_methods = {3, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock,
                                         x_check_reserved_lock, x_file_control, x_sector_size, x_device_characteristics,
                                         x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch, x_unfetch};

// A read-only fault opens the main database read-only, as the unix VFS does by itself when the
// file's permissions deny writing.
int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    auto* f = reinterpret_cast<ShimFile*>(file);
    f->base.pMethods = nullptr;
    f->name = name;
    if (faults.fault == Fault::readonly && (flags & SQLITE_OPEN_MAIN_DB) && targeted(name))
        flags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
    const int rc = faults.real->xOpen(faults.real, name, real_file(file), flags, out_flags);
    if (real_file(file)->pMethods) f->base.pMethods = &shim_methods; // then SQLite calls xClose, even after a failure
    return rc;
}

// Makes the shim SQLite's default VFS for its lifetime (the engine opens with the default), faults
// off until set().
class FaultyDisk {
public:
    FaultyDisk() {
        if (!faults.real) {
            faults.real = sqlite3_vfs_find(nullptr);
            REQUIRE(faults.real);
            faults.vfs = *faults.real; // the unix VFS's other methods ignore the sqlite3_vfs they get
            faults.vfs.pNext = nullptr;
            faults.vfs.zName = "gridloop-faults";
            faults.vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + faults.real->szOsFile;
            faults.vfs.xOpen = x_open;
        }
        REQUIRE(sqlite3_vfs_register(&faults.vfs, 1) == SQLITE_OK);
    }
    ~FaultyDisk() {
        clear();
        sqlite3_vfs_register(faults.real, 1);
        sqlite3_vfs_unregister(&faults.vfs); // connections still open through it keep working: it is static
    }
    FaultyDisk(const FaultyDisk&) = delete;
    FaultyDisk& operator=(const FaultyDisk&) = delete;

    void set(const std::string& db, Fault f, int passes = 0) {
        faults.target = db;
        faults.passes = passes;
        faults.fault = f;
    }
    // Every sync of the database's files sleeps this long first; 0 = no delay.
    void slow(const std::string& db, int delay_ms) {
        faults.target = db;
        faults.sync_delay_ms = delay_ms;
    }
    void clear() {
        faults.fault = Fault::none;
        faults.sync_delay_ms = 0;
    }
};

// ---- requests ----

json report(const std::string& case_id) {
    json j = EngineFixture::report(case_id);
    j["event_id"] = "id-" + case_id;
    return j;
}

// Submits to the writer thread; the answer comes later.
std::future<events::Result<engine::Appended>> submit_async(engine::Engine& e, const json& list) {
    std::vector<events::Posted> batch;
    for (const auto& j : list) batch.push_back(*events::decode_posted(j));
    auto done = std::make_shared<std::promise<events::Result<engine::Appended>>>();
    auto answer = done->get_future();
    e.submit(engine::Submission{std::move(batch), "admin"}, [done](events::Result<engine::Appended> r) { done->set_value(std::move(r)); });
    return answer;
}

events::Result<engine::Appended> submit(engine::Engine& e, const json& list) { return submit_async(e, list).get(); }

// The refusal's message, "" for a success (doctest evaluates messages of passing checks under -s).
std::string why(const events::Result<engine::Appended>& r) { return r ? std::string() : r.error().message; }

std::vector<std::string> event_ids(const engine::StoreReader& store) {
    std::vector<std::string> ids;
    std::int64_t expected = 1;
    store.scan(0, INT64_MAX, [&](const events::RawEnvelope& e) {
        CHECK(e.position == expected++); // gapless
        ids.push_back(e.event_id);
        return true;
    });
    return ids;
}

struct Snapshot {
    engine::Head head;
    std::size_t cases;
    friend bool operator==(const Snapshot&, const Snapshot&) = default;
};
Snapshot snapshot(const engine::Engine& e) {
    return {e.head(), e.read([](const projections::Model& m) { return m.cases().size(); })};
}

// The live model is what a fresh fold of the log gives (the fixture's engine is closed for it).
void same_after_reopening(EngineFixture& f) {
    const Snapshot live = snapshot(*f.engine);
    f.engine.reset();
    engine::Engine reopened(f.path, f.clock);
    CHECK(snapshot(reopened) == live);
}

} // namespace

TEST_SUITE("engine") {

TEST_CASE("resources: a full disk, a failing fsync or a read-only file fail appends whole, the writer goes on, writes resume") {
    Fault fault = Fault::none;
    int passes = 0;
    std::string cause;
    SUBCASE("the disk is full at the commit") {
        fault = Fault::full;
        cause = "no space is left for the event log";
    }
    SUBCASE("the disk fills in the middle of a commit (some WAL frames written)") {
        fault = Fault::full;
        passes = 1;
        cause = "no space is left for the event log";
    }
    SUBCASE("fsync fails") {
        fault = Fault::fsync;
        cause = "the event log cannot be written";
    }
    SUBCASE("the file is read-only when the engine opens it") {
        fault = Fault::readonly;
        cause = "the event log is read-only";
    }
    CAPTURE(cause);

    FaultyDisk disk;
    EngineFixture f;
    f.small_town();
    REQUIRE(f.post(report("before")));
    if (fault == Fault::readonly) {
        f.engine.reset();
        disk.set(f.path, fault);
        f.engine = std::make_unique<engine::Engine>(f.path, f.clock); // opens and folds: reading works
    } else {
        disk.set(f.path, fault, passes);
    }
    std::atomic<int> published{0};
    f.engine->on_commit([&](const std::vector<events::Envelope>& committed, const auto&) { published += static_cast<int>(committed.size()); });
    const Snapshot before = snapshot(*f.engine);
    REQUIRE(before.head.position == 10);

    // A request through the writer thread and an atomic batch through a synchronous append.
    const json single = json::array({report("x1")});
    const json batch = json::array({report("x2"), report("x3"), report("x4")});
    for (int attempt = 0; attempt < 2; ++attempt) { // the second time: the writer survived the first
        for (const auto& r : {submit(*f.engine, single), f.post_all(batch)}) {
            REQUIRE_FALSE(r);
            CHECK(r.error().code == errc::unavailable);
            CHECK_MESSAGE(why(r).find(cause) != std::string::npos, why(r));
            CHECK_MESSAGE(why(r).find("retry later with the same event_id") != std::string::npos, why(r));
        }
        // Nothing of them reached the model, the observers or the log.
        CHECK(snapshot(*f.engine) == before);
        CHECK(f.engine->read([](const projections::Model& m) { return m.find_case("x1") == nullptr && m.find_case("x2") == nullptr; }));
        CHECK(published == 0);
        CHECK(engine::StoreReader(f.path).head() == before.head);
    }
    // Reads go on: the model, the store, verification; a retry of a stored event is still answered.
    CHECK(f.engine->read([](const projections::Model& m) { return m.find_case("before") != nullptr; }));
    CHECK(engine::verify(engine::StoreReader(f.path)).ok);
    auto retry = f.post(report("before"));
    REQUIRE(retry);
    CHECK_FALSE(retry->created);

    // Space returns (the file is writable again): the same requests are appended, without a restart.
    disk.clear();
    auto one = submit(*f.engine, single);
    REQUIRE_MESSAGE(one, why(one));
    CHECK(one->created);
    CHECK(one->envelopes.at(0).position == before.head.position + 1);
    CHECK(one->envelopes.at(0).prev_hash == before.head.hash);
    auto three = f.post_all(batch);
    REQUIRE_MESSAGE(three, why(three));
    CHECK(three->envelopes.at(2).position == before.head.position + 4);
    CHECK(published == 4);

    same_after_reopening(f);
    const auto ids = event_ids(engine::StoreReader(f.path));
    REQUIRE(ids.size() == 14);
    CHECK(std::vector<std::string>(ids.end() - 4, ids.end()) == std::vector<std::string>{"id-x1", "id-x2", "id-x3", "id-x4"});
    CHECK(engine::verify(engine::StoreReader(f.path)).ok);
}

TEST_CASE("resources: a failed commit and then a crash leave the batch whole or absent, and a retry settles which") {
    Fault fault = Fault::none;
    int passes = 0;
    SUBCASE("the disk fills in the middle of the commit") {
        fault = Fault::full;
        passes = 2;
    }
    SUBCASE("fsync fails after the commit frame was written") {
        fault = Fault::fsync;
        passes = 1; // the new WAL's header is synced; the commit's frames are written, their sync fails
    }

    FaultyDisk disk;
    testing::TempDb db("failed-commit");
    const engine::ManualClock clock{*events::parse_time("2026-11-16T09:00:00+08:00")};
    const json batch = json::array({report("y1"), report("y2"), report("y3")});
    {
        EngineFixture f; // builds the town in a file of its own, copied below
        f.small_town();
        f.engine.reset();
        std::filesystem::copy_file(f.path, db.path());
    }
    // The child fails a commit and dies without closing anything, as in a power cut right after.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        try {
            engine::Engine e(db.path(), clock);
            disk.set(db.path(), fault, passes);
            std::vector<events::Posted> posted;
            for (const auto& j : batch) posted.push_back(*events::decode_posted(j));
            auto r = e.append(engine::Submission{std::move(posted), "admin"});
            ::_exit(!r && r.error().code == errc::unavailable ? 0 : 2);
        } catch (const std::exception&) {
            ::_exit(3);
        }
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0); // 2: the append did not fail as unavailable; 3: the engine threw

    engine::Engine e(db.path(), clock);
    const auto verified = engine::verify(engine::StoreReader(db.path()));
    CHECK_MESSAGE(verified.ok, verified.problem);
    const auto ids = event_ids(engine::StoreReader(db.path()));
    const auto present = std::count_if(ids.begin(), ids.end(), [](const std::string& id) { return id.starts_with("id-y"); });
    CHECK((present == 0 || present == 3)); // all or nothing
    MESSAGE("after a failed commit and a crash, " << present << " of the batch's 3 events are in the log");
    std::vector<events::Posted> posted;
    for (const auto& j : batch) posted.push_back(*events::decode_posted(j));
    auto r = e.append(engine::Submission{std::move(posted), "admin"});
    REQUIRE(r);
    CHECK(r->created == (present == 0)); // 201 when it was not there, 200 with the originals when it was
    CHECK(r->envelopes.at(0).position == 10);
    CHECK(e.head().position == 12);
}

TEST_CASE("resources: the writer decides on top of a group still being committed") {
    FaultyDisk disk;
    EngineFixture f;
    f.small_town();
    const engine::Head before = f.engine->head();
    // The committer waits for the slow disk with the report while the writer decides the second
    // request, against the group not yet in the log.
    json second;
    SUBCASE("a retry of the report gets the original") { second = report("z1"); }
    SUBCASE("the handling of its case is accepted") {
        second = EngineFixture::ev("IssueHandled", {{"case_id", "z1"}, {"handler", "p"}, {"result", "ok"}});
    }
    disk.slow(f.path, 300);
    auto first = submit_async(*f.engine, json::array({report("z1")}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto then = submit_async(*f.engine, json::array({second}));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(engine::StoreReader(f.path).head().position == before.position); // the report is not committed yet
    const auto a = first.get(), b = then.get();
    disk.clear();
    REQUIRE_MESSAGE(a, why(a));
    REQUIRE_MESSAGE(b, why(b));
    CHECK(a->created);
    CHECK(a->envelopes.at(0).position == before.position + 1);
    if (second.contains("event_id")) { // the retry
        CHECK_FALSE(b->created);
        CHECK(b->envelopes.at(0).position == a->envelopes.at(0).position);
        CHECK(b->envelopes.at(0).hash == a->envelopes.at(0).hash);
        const auto ids = event_ids(engine::StoreReader(f.path));
        CHECK(std::count(ids.begin(), ids.end(), "id-z1") == 1);
    } else {
        CHECK(b->created);
        CHECK(b->envelopes.at(0).position == a->envelopes.at(0).position + 1);
        CHECK(b->envelopes.at(0).prev_hash == a->envelopes.at(0).hash);
        CHECK(b->envelopes.at(0).version == 2);
        CHECK(f.engine->read([](const projections::Model& m) { return m.find_case("z1")->version; }) == 2);
    }
    same_after_reopening(f);
}

TEST_CASE("resources: when a commit fails, the groups decided on top of it fail too, and the log goes on from its head") {
    FaultyDisk disk;
    EngineFixture f;
    f.small_town();
    std::atomic<int> published{0};
    f.engine->on_commit([&](const std::vector<events::Envelope>& committed, const auto&) { published += static_cast<int>(committed.size()); });
    const Snapshot before = snapshot(*f.engine);
    // The first commit waits for the slow disk and then fails its fsync; meanwhile the writer decides
    // a new report and a retry of the failing one on top of it.
    disk.set(f.path, Fault::fsync);
    disk.slow(f.path, 300);
    auto failing = submit_async(*f.engine, json::array({report("z1")}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto next = submit_async(*f.engine, json::array({report("z2")}));
    auto retry = submit_async(*f.engine, json::array({report("z1")})); // answered from the failing group: must fail too
    for (auto* answer : {&failing, &next, &retry}) {
        const auto r = answer->get();
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::unavailable);
    }
    disk.clear();
    CHECK(snapshot(*f.engine) == before);
    CHECK(published == 0);
    CHECK(engine::StoreReader(f.path).head() == before.head);

    // The next group is decided against the log as it stands, not against the failed groups.
    const auto two = submit(*f.engine, json::array({report("z2")}));
    REQUIRE_MESSAGE(two, why(two));
    CHECK(two->created);
    CHECK(two->envelopes.at(0).position == before.head.position + 1);
    CHECK(two->envelopes.at(0).prev_hash == before.head.hash);
    const auto one = submit(*f.engine, json::array({report("z1")}));
    REQUIRE_MESSAGE(one, why(one));
    CHECK(one->created);
    CHECK(one->envelopes.at(0).position == before.head.position + 2);
    CHECK(published == 2);
    same_after_reopening(f);
    CHECK(engine::verify(engine::StoreReader(f.path)).ok);
}

} // TEST_SUITE

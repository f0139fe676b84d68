// The SQLite event store: schema, opening checks, reads, and the single writer's append.
#include "engine/store.hpp"

#include "engine/sqlite.hpp"

#include <array>
#include <cerrno>
#include <filesystem>
#include <utility>

namespace gridloop::engine {
namespace {

using events::RawEnvelope;

constexpr const char* schema_sql = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE events(
  position INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  version INTEGER NOT NULL,
  event_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  occurred_at TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  actor TEXT NOT NULL,
  data TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE(stream, version)
) STRICT;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'gridloop events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'gridloop events are append-only'); END;
INSERT INTO meta(key, value) VALUES
  ('format', 'gridloop-events'),
  ('created_by', 'gridloop 0.1');
)sql";

#define GRIDLOOP_COLUMNS "position, stream, version, event_id, type, occurred_at, recorded_at, actor, data, prev_hash, hash"
constexpr const char* head_sql = "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1";
constexpr const char* at_sql = "SELECT " GRIDLOOP_COLUMNS " FROM events WHERE position = ?1";
constexpr const char* by_id_sql = "SELECT " GRIDLOOP_COLUMNS " FROM events WHERE event_id = ?1";
constexpr const char* scan_sql =
    "SELECT " GRIDLOOP_COLUMNS " FROM events WHERE position > ?1 AND position <= ?2 ORDER BY position";
constexpr const char* stream_sql =
    "SELECT " GRIDLOOP_COLUMNS " FROM events WHERE stream = ?1 AND position <= ?2 ORDER BY version";
constexpr const char* version_sql = "SELECT version FROM events WHERE stream = ?1 ORDER BY version DESC LIMIT 1";
constexpr const char* meta_sql = "SELECT value FROM meta WHERE key = ?1";
constexpr const char* insert_sql = "INSERT INTO events(" GRIDLOOP_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
#undef GRIDLOOP_COLUMNS

constexpr std::array<const char*, 11> column_names = {"position",    "stream", "version", "event_id",  "type", "occurred_at",
                                                      "recorded_at", "actor",  "data",    "prev_hash", "hash"};

StoreError::Kind kind_of(const sqlite::Error& e) {
    switch (e.primary()) {
    case SQLITE_FULL: return StoreError::Kind::full;
    case SQLITE_READONLY: return StoreError::Kind::readonly;
    case SQLITE_IOERR:
        // The unix VFS reports only ENOSPC as SQLITE_FULL; a quota, a file-size limit or a file
        // system remounted read-only surface as I/O errors with their errno.
        switch (e.system_errno()) {
        case ENOSPC:
        case EDQUOT:
        case EFBIG: return StoreError::Kind::full;
        case EROFS: return StoreError::Kind::readonly;
        default: return StoreError::Kind::io;
        }
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return StoreError::Kind::busy;
    case SQLITE_CONSTRAINT: return StoreError::Kind::conflict;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return StoreError::Kind::corrupt;
    default: return StoreError::Kind::io;
    }
}

[[noreturn]] void rethrow(const std::string& path, std::string_view what, const sqlite::Error& e) {
    const auto kind = kind_of(e);
    const char* damaged = kind == StoreError::Kind::corrupt ? " is damaged; restore it from a backup" : "";
    throw StoreError(kind, path + damaged + ": " + std::string(what) + ": " + e.what());
}

// Runs f, turning SQLite failures into StoreError that name the file and the operation.
template <class F> decltype(auto) guarded(const std::string& path, std::string_view what, F&& f) {
    try {
        return std::forward<F>(f)();
    } catch (const sqlite::Error& e) {
        rethrow(path, what, e);
    }
}

void read_row(const sqlite::Statement& s, RawEnvelope& r) {
    r.position = s.int64(0);
    r.stream.assign(s.text(1));
    r.version = s.int64(2);
    r.event_id.assign(s.text(3));
    r.type.assign(s.text(4));
    r.occurred_at.assign(s.text(5));
    r.recorded_at.assign(s.text(6));
    r.actor.assign(s.text(7));
    r.data.assign(s.text(8));
    r.prev_hash.assign(s.text(9));
    r.hash.assign(s.text(10));
}

std::string_view storage_class_name(int type) {
    switch (type) {
    case SQLITE_INTEGER: return "integer";
    case SQLITE_FLOAT: return "real";
    case SQLITE_TEXT: return "text";
    case SQLITE_BLOB: return "blob";
    default: return "null";
    }
}

// Must run before read_row: sqlite3_column_type is only meaningful before a value is converted.
std::string storage_problem(const sqlite::Statement& s) {
    for (int c = 0; c < static_cast<int>(column_names.size()); ++c) {
        const int expected = c == 0 || c == 2 ? SQLITE_INTEGER : SQLITE_TEXT;
        const int actual = s.type(c);
        if (actual != expected)
            return std::string(column_names[static_cast<std::size_t>(c)]) + " is stored as " +
                   std::string(storage_class_name(actual)) + ", not " + std::string(storage_class_name(expected));
    }
    return {};
}

std::string at_position(std::int64_t p) { return "position " + std::to_string(p) + ": "; }

// Field checks that need no database: a malformed envelope is refused before the transaction.
void check_fields(std::span<const RawEnvelope> batch) {
    for (const auto& r : batch) {
        const char* problem = nullptr;
        if (r.stream.empty()) problem = "stream is empty";
        else if (r.version < 1) problem = "version is below 1";
        else if (r.event_id.empty()) problem = "event_id is empty";
        else if (r.type.empty()) problem = "type is empty";
        else if (r.data.empty()) problem = "data is empty";
        else if (!events::is_hash_hex(r.prev_hash)) problem = "prev_hash is not 64 lowercase hex digits";
        else if (!events::is_hash_hex(r.hash)) problem = "hash is not 64 lowercase hex digits";
        if (problem) throw StoreError(StoreError::Kind::invalid, at_position(r.position) + problem);
    }
}

// The batch must continue the log exactly where head ends.
void check_sequence(std::span<const RawEnvelope> batch, const Head& head) {
    std::int64_t expected = head.position + 1;
    const std::string* prev = &head.hash;
    for (const auto& r : batch) {
        if (r.position != expected)
            throw StoreError(StoreError::Kind::conflict, at_position(r.position) + "expected position " +
                                                             std::to_string(expected) + " (the head is " +
                                                             std::to_string(head.position) + ")");
        if (r.prev_hash != *prev)
            throw StoreError(StoreError::Kind::conflict,
                             at_position(r.position) + "prev_hash does not continue the chain (expected " + *prev + ")");
        ++expected;
        prev = &r.hash;
    }
}

bool path_exists(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
}

// SQLite creates the -wal and -shm files with the database file's mode, so those made while the
// database was read-only stay read-only once it is writable, and SQLite would go on opening the log
// read-only. Gives them the database's mode again (nothing happens to files this process may not change).
void writable_companions(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto mode = fs::status(path, ec).permissions();
    if (ec || (mode & fs::perms::owner_write) == fs::perms::none) return;
    for (const char* suffix : {"-wal", "-shm"}) {
        const auto companion = fs::status(path + suffix, ec);
        if (!ec && fs::exists(companion) && (companion.permissions() & fs::perms::owner_write) == fs::perms::none)
            fs::permissions(path + suffix, mode, ec);
    }
}

} // namespace

const char* log_schema_sql() { return schema_sql; }

StoreError::StoreError(Kind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}

std::string_view to_string(StoreError::Kind kind) {
    switch (kind) {
    case StoreError::Kind::io: return "io";
    case StoreError::Kind::full: return "full";
    case StoreError::Kind::readonly: return "readonly";
    case StoreError::Kind::busy: return "busy";
    case StoreError::Kind::corrupt: return "corrupt";
    case StoreError::Kind::foreign: return "foreign";
    case StoreError::Kind::too_new: return "too_new";
    case StoreError::Kind::conflict: return "conflict";
    case StoreError::Kind::invalid: return "invalid";
    }
    return "unknown";
}

struct StoreReader::Impl {
    Impl(const std::string& p, Mode mode);

    // Hands out the cached statement, or a fresh one while the cached one is mid-scan (a callback
    // that reads the same store), and resets it afterwards.
    template <class F> decltype(auto) use(sqlite::Statement& cached, const char* sql, F&& f) {
        if (!cached.busy()) {
            sqlite::ResetGuard reset(cached);
            return std::forward<F>(f)(cached);
        }
        sqlite::Statement fresh(db, sql, false);
        sqlite::ResetGuard reset(fresh);
        return std::forward<F>(f)(fresh);
    }

    Head read_head() {
        return use(head_q, head_sql, [](sqlite::Statement& s) {
            if (!s.step()) return Head{0, events::zero_hash(), ""};
            return Head{s.int64(0), std::string(s.text(1)), std::string(s.text(2))};
        });
    }

    std::optional<RawEnvelope> one(sqlite::Statement& cached, const char* sql, auto bind) {
        return use(cached, sql, [&](sqlite::Statement& s) -> std::optional<RawEnvelope> {
            bind(s);
            if (!s.step()) return std::nullopt;
            RawEnvelope r;
            read_row(s, r);
            return r;
        });
    }

    template <class F> void scan(std::int64_t after, std::int64_t last, F&& on_row) {
        if (last <= after) return;
        use(scan_q, scan_sql, [&](sqlite::Statement& s) {
            s.bind(1, after);
            s.bind(2, last);
            RawEnvelope r; // reused: its strings keep their capacity from row to row
            while (s.step())
                if (!on_row(s, r)) break;
        });
    }

    std::string path;
    bool writer;
    sqlite::Connection db;
    // Declared after db and before the statements: checks (or creates) the schema before they are prepared.
    bool schema_ok;
    sqlite::Statement head_q, at_q, by_id_q, scan_q, stream_q, version_q, meta_q;
    std::optional<sqlite::Statement> insert_q; // the writer's only
    Head head;                                 // cached by the writer
    bool reopen = false;                       // the writer found the log read-only: open it again before the next append
};

namespace {

// Decides what the opened file is; creates the schema when a writer opens an empty file.
bool open_schema(sqlite::Connection& db, const std::string& path, bool writer) {
    using Kind = StoreError::Kind;
    const std::string not_ours = path + " is not a gridloop database";
    sqlite3_busy_timeout(db.get(), 5000); // e.g. while another process recovers a hot WAL
    try {
        for (int attempt = 0;; ++attempt) {
            const auto app = db.query_int("PRAGMA application_id");
            const auto version = db.query_int("PRAGMA user_version");
            const auto objects = db.query_int("SELECT count(*) FROM sqlite_schema");
            if (app == 0 && version == 0 && objects == 0) {
                if (!writer) throw StoreError(Kind::foreign, not_ours + " (it is empty)");
                if (db.readonly())
                    throw StoreError(Kind::readonly, path + " is empty and read-only: cannot create the gridloop schema");
                if (attempt > 0) throw StoreError(Kind::corrupt, path + ": the gridloop schema could not be created");
                db.exec("PRAGMA journal_mode=WAL");
                sqlite::Transaction tx(db);
                // Another process may have created it since the check above; then check again.
                if (db.query_int("SELECT count(*) FROM sqlite_schema") == 0) {
                    db.exec(schema_sql);
                    db.exec(("PRAGMA application_id=" + std::to_string(application_id)).c_str());
                    db.exec(("PRAGMA user_version=" + std::to_string(schema_version)).c_str());
                    tx.commit();
                }
                continue;
            }
            if (app != application_id) {
                const std::string tables = db.query_text(
                    "SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 5)");
                throw StoreError(Kind::foreign, not_ours + " (a SQLite file of another application: application_id " +
                                                    std::to_string(app) + (tables.empty() ? "" : ", tables " + tables) +
                                                    ")");
            }
            if (version > schema_version)
                throw StoreError(Kind::too_new, path + " was written by a newer gridloop: schema " + std::to_string(version) +
                                                    ", this build reads " + std::to_string(schema_version));
            if (version < 1)
                throw StoreError(Kind::corrupt, path + " is a gridloop database with schema " + std::to_string(version) +
                                                    ", which no gridloop writes");
            if (db.query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('events', 'meta')") != 2)
                throw StoreError(Kind::corrupt, path + " is a gridloop database without its events or meta table");
            if (db.query_text("SELECT value FROM meta WHERE key = 'format'") != "gridloop-events")
                throw StoreError(Kind::corrupt, path + " is a gridloop database whose meta table lacks format=gridloop-events");
            return true;
        }
    } catch (const sqlite::Error& e) {
        if (e.primary() == SQLITE_NOTADB) throw StoreError(Kind::foreign, not_ours + " (" + sqlite3_errstr(e.primary()) + ")");
        rethrow(path, "open", e);
    }
}

sqlite::Connection open_connection(const std::string& path, bool writer) {
    if (!writer && !path_exists(path)) throw StoreError(StoreError::Kind::io, path + " does not exist");
    if (writer) writable_companions(path);
    try {
        // NOMUTEX: a connection is only ever used by one thread at a time, so SQLite's per-call
        // mutex (a sixth of a scan's time) buys nothing.
        const int access = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
        return sqlite::Connection(path, access | SQLITE_OPEN_NOMUTEX);
    } catch (const sqlite::Error& e) {
        throw StoreError(kind_of(e), e.what());
    }
}

} // namespace

StoreReader::Impl::Impl(const std::string& p, Mode mode)
    : path(p), writer(mode == Mode::write), db(open_connection(p, writer)),
      schema_ok(open_schema(db, path, writer)), head_q(db, head_sql),
      at_q(db, at_sql), by_id_q(db, by_id_sql), scan_q(db, scan_sql), stream_q(db, stream_sql), version_q(db, version_sql),
      meta_q(db, meta_sql) {
    if (!writer) return;
    if (!db.readonly()) {
        db.exec("PRAGMA journal_mode=WAL");
        db.exec("PRAGMA journal_size_limit=67108864"); // a huge batch's WAL shrinks back after checkpoint
    }
    db.exec("PRAGMA synchronous=FULL"); // in WAL mode: every commit is fsynced before it returns
    insert_q.emplace(db, insert_sql);
    head = read_head();
    reopen = db.readonly();
}

StoreReader::StoreReader(const std::string& path) : StoreReader(path, Mode::read) {}

const StoreReader& StoreReader::for_this_thread(const std::string& path) {
    // One per thread: a server's threads read one log. Kept by path, each log ever read stayed open
    // (and a removed file's space taken) until the thread ended.
    thread_local std::unique_ptr<StoreReader> reader;
    if (!reader || reader->path() != path) {
        reader.reset(); // closed before the next is opened
        reader = std::make_unique<StoreReader>(path);
    }
    return *reader;
}

StoreReader::StoreReader(const std::string& path, Mode mode) {
    try {
        impl_ = std::make_unique<Impl>(path, mode);
    } catch (const sqlite::Error& e) {
        rethrow(path, "open", e);
    }
}

StoreReader::~StoreReader() = default;
StoreReader::StoreReader(StoreReader&&) noexcept = default;
StoreReader& StoreReader::operator=(StoreReader&&) noexcept = default;

const std::string& StoreReader::path() const { return impl_->path; }

Head StoreReader::head() const {
    if (impl_->writer) return impl_->head;
    return guarded(impl_->path, "head", [&] { return impl_->read_head(); });
}

std::optional<RawEnvelope> StoreReader::by_event_id(std::string_view event_id) const {
    auto& s = *impl_;
    return guarded(s.path, "by_event_id", [&] {
        return s.one(s.by_id_q, by_id_sql, [&](sqlite::Statement& st) { st.bind(1, event_id); });
    });
}

void StoreReader::each_event_id(const std::function<bool(std::string_view)>& f) const {
    auto& s = *impl_;
    guarded(s.path, "each_event_id", [&] {
        sqlite::Statement st(s.db, "SELECT event_id FROM events", false); // a scan of the covering unique index
        sqlite::ResetGuard reset(st);
        while (st.step())
            if (!f(st.text(0))) break;
    });
}

std::optional<RawEnvelope> StoreReader::at(std::int64_t position) const {
    auto& s = *impl_;
    return guarded(s.path, "at", [&] { return s.one(s.at_q, at_sql, [&](sqlite::Statement& st) { st.bind(1, position); }); });
}

void StoreReader::scan(std::int64_t after, std::int64_t last, const std::function<bool(const RawEnvelope&)>& f) const {
    auto& s = *impl_;
    guarded(s.path, "scan", [&] {
        s.scan(after, last, [&](const sqlite::Statement& st, RawEnvelope& r) {
            read_row(st, r);
            return f(r);
        });
    });
}

void StoreReader::scan_views(std::int64_t after, std::int64_t last, const std::function<bool(const events::RawView&)>& f) const {
    auto& s = *impl_;
    guarded(s.path, "scan", [&] {
        s.scan(after, last, [&](const sqlite::Statement& st, RawEnvelope&) {
            return f(events::RawView{st.int64(0), st.text(1), st.int64(2), st.text(3), st.text(4), st.text(5), st.text(6), st.text(7),
                                     st.text(8), st.text(9), st.text(10)});
        });
    });
}

void StoreReader::scan_checked(std::int64_t after, std::int64_t last,
                               const std::function<bool(const RawEnvelope&, std::string_view)>& f) const {
    auto& s = *impl_;
    guarded(s.path, "scan", [&] {
        s.scan(after, last, [&](const sqlite::Statement& st, RawEnvelope& r) {
            const std::string problem = storage_problem(st);
            read_row(st, r);
            return f(r, problem);
        });
    });
}

std::vector<RawEnvelope> StoreReader::stream(std::string_view stream, std::int64_t up_to) const {
    auto& s = *impl_;
    return guarded(s.path, "stream", [&] {
        return s.use(s.stream_q, stream_sql, [&](sqlite::Statement& st) {
            st.bind(1, stream);
            st.bind(2, up_to);
            std::vector<RawEnvelope> out;
            while (st.step()) read_row(st, out.emplace_back());
            return out;
        });
    });
}

std::int64_t StoreReader::stream_version(std::string_view stream) const {
    auto& s = *impl_;
    return guarded(s.path, "stream_version", [&] {
        return s.use(s.version_q, version_sql, [&](sqlite::Statement& st) -> std::int64_t {
            st.bind(1, stream);
            return st.step() ? st.int64(0) : 0;
        });
    });
}

std::optional<std::string> StoreReader::meta(std::string_view key) const {
    auto& s = *impl_;
    return guarded(s.path, "meta", [&] {
        return s.use(s.meta_q, meta_sql, [&](sqlite::Statement& st) -> std::optional<std::string> {
            st.bind(1, key);
            if (!st.step()) return std::nullopt;
            return std::string(st.text(0));
        });
    });
}

Head StoreReader::backup(const std::string& out) const {
    auto& s = *impl_;
    if (std::filesystem::exists(out)) throw StoreError(StoreError::Kind::io, out + " exists; a backup goes to a new file");
    try {
        guarded(out, "backup", [&] {
            sqlite::Connection dest(out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
            sqlite3_backup* b = sqlite3_backup_init(dest.get(), "main", s.db.get(), "main");
            if (!b) dest.check(sqlite3_errcode(dest.get()), "backup_init");
            // One step copies every page inside one read transaction: a consistent snapshot.
            const int rc = sqlite3_backup_step(b, -1);
            sqlite3_backup_finish(b);
            if (rc != SQLITE_DONE) dest.check(rc == SQLITE_OK ? SQLITE_ERROR : rc, "backup_step");
        });
        return StoreReader(out).head();
    } catch (...) {
        // Never leave half a copy behind.
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(out + suffix, ec);
        throw;
    }
}

Store::Store(const std::string& path) : StoreReader(path, Mode::write) {}

void Store::append(std::span<const RawEnvelope> batch) { append_batches(std::span<const std::span<const RawEnvelope>>(&batch, 1)); }

void Store::append_batches(std::span<const std::span<const RawEnvelope>> batches) {
    const RawEnvelope *first = nullptr, *last = nullptr;
    for (const auto& batch : batches)
        if (!batch.empty()) {
            if (!first) first = &batch.front();
            last = &batch.back();
        }
    if (!first) return;
    if (impl_->reopen) {
        // The log was read-only (the file, its -wal or -shm, or the file system): open it again, so
        // that writes resume once it is writable, without a restart.
        const std::string path = impl_->path;
        impl_ = guarded(path, "reopen", [&] { return std::make_unique<Impl>(path, Mode::write); });
        if (impl_->db.readonly())
            throw StoreError(StoreError::Kind::readonly,
                             path + ": the file or its file system is read-only; appends resume once it is writable");
    }
    auto& s = *impl_;
    for (const auto& batch : batches) check_fields(batch);
    auto& insert = *s.insert_q;
    try {
        sqlite::Transaction tx(s.db);
        // The committed head, read under the write lock: right even if another process appended.
        Head head = s.read_head();
        sqlite::ResetGuard reset(insert);
        for (const auto& batch : batches) {
            if (batch.empty()) continue;
            check_sequence(batch, head);
            head = Head{batch.back().position, batch.back().hash, batch.back().recorded_at};
            for (const auto& r : batch) {
                insert.bind(1, r.position);
                insert.bind(2, r.stream);
                insert.bind(3, r.version);
                insert.bind(4, r.event_id);
                insert.bind(5, r.type);
                insert.bind(6, r.occurred_at);
                insert.bind(7, r.recorded_at);
                insert.bind(8, r.actor);
                insert.bind(9, r.data);
                insert.bind(10, r.prev_hash);
                insert.bind(11, r.hash);
                try {
                    insert.step();
                } catch (const sqlite::Error& e) {
                    throw sqlite::Error(e.code(), at_position(r.position) + e.what(), e.system_errno());
                }
                insert.reset();
            }
        }
        tx.commit();
        s.head = std::move(head);
    } catch (const sqlite::Error& e) {
        // Read-only: open the file again next time (not when it was moved away: that would create an empty one).
        s.reopen = kind_of(e) == StoreError::Kind::readonly && e.code() != SQLITE_READONLY_DBMOVED;
        // Nothing was written; still, take the head from the file rather than trust the cache.
        try {
            s.head = s.read_head();
        } catch (const sqlite::Error&) {
        }
        rethrow(s.path, "append of positions " + std::to_string(first->position) + ".." + std::to_string(last->position) + " failed", e);
    }
}

} // namespace gridloop::engine

// The append-only event store on SQLite: a reader per thread, one writer, envelopes as stored text.
#pragma once

#include "events/envelope.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gridloop::engine {

class StoreError : public std::runtime_error {
public:
    enum class Kind {
        io,       // any other SQLite or file-system failure
        full,     // disk or quota full (SQLITE_FULL)
        readonly, // the file or file system is read-only
        busy,     // another process holds the lock past the busy timeout
        corrupt,  // a gridloop database that is damaged or incomplete
        foreign,  // not SQLite, or SQLite of another application
        too_new,  // written by a newer gridloop schema
        conflict, // position, chain or uniqueness violated; nothing was written
        invalid,  // an envelope field is malformed (empty stream, hash not 64 hex digits, ...)
    };
    StoreError(Kind kind, std::string message);
    Kind kind() const noexcept { return kind_; }

private:
    Kind kind_;
};

std::string_view to_string(StoreError::Kind kind);

// The last envelope of the log.
struct Head {
    std::int64_t position = 0;
    std::string hash;        // zero_hash() when the log is empty
    std::string recorded_at; // "" when the log is empty
    friend bool operator==(const Head&, const Head&) = default;
};

// The schema this build writes and reads (PRAGMA user_version) and the file's PRAGMA application_id ("GRLP").
inline constexpr int schema_version = 1;
inline constexpr std::int32_t application_id = 0x47524C50;

// The SQL that creates an empty log (tables, append-only triggers, meta rows): for programs that must
// write an identical table, such as the bare-SQLite baseline in bench/.
const char* log_schema_sql();

// Read access. One per thread: a SQLite connection is never shared across threads here (it is
// opened without SQLite's own mutex), so one object must not be used by two threads at once. Each call
// sees the log as last committed, so a reader follows a writer in another connection or process.
class StoreReader {
public:
    // Opens read-only. StoreError when the file is missing (io), not a gridloop database (foreign),
    // or written by a newer schema (too_new).
    explicit StoreReader(const std::string& path);
    // The calling thread's own read connection to `path`, opened on first use and kept until the
    // thread asks for another path (which closes it: a reference from an earlier call is then gone).
    static const StoreReader& for_this_thread(const std::string& path);
    ~StoreReader();
    StoreReader(StoreReader&&) noexcept;
    StoreReader& operator=(StoreReader&&) noexcept;

    const std::string& path() const;

    Head head() const;
    std::optional<events::RawEnvelope> by_event_id(std::string_view event_id) const;
    std::optional<events::RawEnvelope> at(std::int64_t position) const;
    // Every event_id of the log, in no particular order (the unique index's), as the log was when the
    // first one was read; stops early when f returns false. The view is valid only during f.
    void each_event_id(const std::function<bool(std::string_view)>& f) const;
    // Positions in (after, last] in ascending order; stops early when f returns false. The envelope
    // passed to f is reused for the next row: copy it to keep it.
    void scan(std::int64_t after, std::int64_t last, const std::function<bool(const events::RawEnvelope&)>& f) const;
    // Like scan, but each row is seen where SQLite holds it, valid only during f: no copy per row for
    // a caller that decodes each row at once (engine/replay.cpp).
    void scan_views(std::int64_t after, std::int64_t last, const std::function<bool(const events::RawView&)>& f) const;
    // Like scan, and also names the first column of each row whose SQLite storage class is not the
    // schema's ("" when all are right), so that verification catches a value rewritten with another type.
    void scan_checked(std::int64_t after, std::int64_t last,
                      const std::function<bool(const events::RawEnvelope&, std::string_view storage_problem)>& f) const;
    // One stream's envelopes in version order, positions <= up_to.
    std::vector<events::RawEnvelope> stream(std::string_view stream, std::int64_t up_to = INT64_MAX) const;
    // The stream's last version; 0 when absent.
    std::int64_t stream_version(std::string_view stream) const;
    // A value of the meta table ("format", "created_by", ...); nullopt when absent.
    std::optional<std::string> meta(std::string_view key) const;
    // Copies the database, as of one committed state, into a new file `out` with SQLite's online
    // backup API; writers in other connections go on meanwhile (WAL). Returns the head of the copy.
    // StoreError when `out` exists or cannot be written.
    Head backup(const std::string& out) const;

protected:
    struct Impl;
    enum class Mode { read, write };
    StoreReader(const std::string& path, Mode mode);
    std::unique_ptr<Impl> impl_;
};

// The single writer's connection, which reads too. It keeps the head cached: head() costs nothing.
class Store : public StoreReader {
public:
    // Opens read-write; creates the file and the schema when absent. A file or file system that is
    // read-only still opens for reading, and append then throws StoreError readonly until the log is
    // writable again: after a read-only failure the next append opens the file again first.
    explicit Store(const std::string& path);

    // Appends in one transaction with a durable (synchronous) commit. The positions must be head+1,
    // head+2, ...; each prev_hash the previous envelope's hash (the head's for the first); (stream,
    // version) and event_id unique. On any failure nothing is written and StoreError is thrown: full
    // for SQLITE_FULL, readonly for SQLITE_READONLY*, busy, conflict for a violated position, chain or
    // uniqueness, invalid for a malformed field, io otherwise. An empty batch does nothing.
    void append(std::span<const events::RawEnvelope> batch);
    // The same for several batches in one transaction, as if they were one, in order (the writer's
    // groups decided while the commit before them was under way).
    void append_batches(std::span<const std::span<const events::RawEnvelope>> batches);
};

} // namespace gridloop::engine

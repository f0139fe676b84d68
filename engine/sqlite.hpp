// Thin RAII over the SQLite C API: connection, prepared statement, transaction. Internal to engine/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gridloop::engine::sqlite {

// A failed SQLite call: the extended result code, the errno behind an I/O error, and
// "what: sqlite3_errmsg".
class Error : public std::runtime_error {
public:
    Error(int code, const std::string& message, int system_errno = 0)
        : std::runtime_error(message), code_(code), system_errno_(system_errno) {}
    int code() const noexcept { return code_; }             // extended result code
    int primary() const noexcept { return code_ & 0xff; }   // SQLITE_FULL, SQLITE_READONLY, ...
    // For a failed write, fsync or truncate: the system call's errno (ENOSPC, EDQUOT, EROFS, ...); else 0.
    int system_errno() const noexcept { return system_errno_; }

private:
    int code_;
    int system_errno_;
};

class Connection {
public:
    // Opens with sqlite3_open_v2 flags; extended result codes are switched on.
    Connection(const std::string& path, int flags);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    sqlite3* get() const noexcept { return db_; }
    // Throws Error(extended code, "what: errmsg") unless rc is SQLITE_OK, SQLITE_ROW or SQLITE_DONE.
    void check(int rc, std::string_view what) const;
    // Runs one or more statements that need no binding (DDL, PRAGMA, BEGIN/COMMIT).
    void exec(const char* sql);
    // The first column of the first row of a statement without parameters (PRAGMA x, SELECT count(*)).
    std::int64_t query_int(const char* sql);
    std::string query_text(const char* sql);
    // True when the main database was opened (or fell back to) read-only.
    bool readonly() const noexcept { return sqlite3_db_readonly(db_, "main") == 1; }
    bool in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }

private:
    sqlite3* db_ = nullptr;
};

// A prepared statement, prepared once and reused: bind, step until false, reset.
class Statement {
public:
    // persistent: kept for the connection's life (SQLITE_PREPARE_PERSISTENT).
    Statement(const Connection& db, std::string_view sql, bool persistent = true);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // True when a row is ready, false when done; throws Error otherwise.
    bool step();
    void reset() noexcept { sqlite3_reset(stmt_); }
    // True between the first step and reset: the statement holds a cursor.
    bool busy() const noexcept { return sqlite3_stmt_busy(stmt_) != 0; }

    void bind(int index, std::int64_t value);
    // SQLITE_STATIC: the bytes must stay valid until the statement is reset or rebound.
    void bind(int index, std::string_view value);

    int type(int column) const noexcept { return sqlite3_column_type(stmt_, column); }
    std::int64_t int64(int column) const noexcept { return sqlite3_column_int64(stmt_, column); }
    // A view into SQLite's buffer, valid until the next step, reset or type conversion.
    std::string_view text(int column) const noexcept {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
        return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string_view();
    }

private:
    const Connection* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement on scope exit, so an exception or early return never leaves a cursor open.
class ResetGuard {
public:
    explicit ResetGuard(Statement& s) noexcept : s_(s) {}
    ~ResetGuard() { s_.reset(); }
    ResetGuard(const ResetGuard&) = delete;
    ResetGuard& operator=(const ResetGuard&) = delete;

private:
    Statement& s_;
};

// BEGIN on construction; rolls back on destruction unless commit() succeeded.
class Transaction {
public:
    explicit Transaction(Connection& db, const char* begin = "BEGIN IMMEDIATE");
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Connection& db_;
    bool done_ = false;
};

} // namespace gridloop::engine::sqlite

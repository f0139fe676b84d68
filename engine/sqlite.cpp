// RAII over the SQLite C API.
#include "engine/sqlite.hpp"

#include <cassert>
#include <cstring>

namespace gridloop::engine::sqlite {
namespace {

// The errno behind a failed write, fsync or truncate (a full disk, a quota, a file-size limit, a
// read-only file system), taken from the file that failed: the WAL (the journal), else the database
// file. Not for other codes: a file's last errno may be left over from an earlier failure.
int io_errno(sqlite3* db, int rc) {
    if (!db || (rc != SQLITE_IOERR_WRITE && rc != SQLITE_IOERR_FSYNC && rc != SQLITE_IOERR_TRUNCATE)) return 0;
    int e = 0;
    sqlite3_file* journal = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &journal) == SQLITE_OK && journal && journal->pMethods)
        journal->pMethods->xFileControl(journal, SQLITE_FCNTL_LAST_ERRNO, &e);
    if (e == 0) sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e);
    return e;
}

std::string describe(sqlite3* db, int rc, std::string_view what) {
    std::string m(what);
    m += ": ";
    // sqlite3_errmsg describes the last failure on this connection; fall back to the code's text.
    m += db && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    m += " (SQLite code " + std::to_string(rc);
    if (const int e = io_errno(db, rc)) m += std::string(", ") + std::strerror(e);
    return m + ")";
}

// SQLite counts every allocation under a global mutex unless told otherwise before it starts;
// nothing here reads the counts. (When SQLite already started, the call is refused and changes nothing.)
void configure_library() {
    [[maybe_unused]] static const int once = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

} // namespace

Connection::Connection(const std::string& path, int flags) {
    configure_library();
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        // Even a failed open allocates a handle that carries the message.
        const int code = db_ ? sqlite3_extended_errcode(db_) : rc;
        std::string m = describe(db_, code, "cannot open " + path);
        const int sys = io_errno(db_, code);
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(code, m, sys);
    }
    sqlite3_extended_result_codes(db_, 1);
}

Connection::~Connection() {
    // Statements are members declared after their connection, so they are finalized by now.
    [[maybe_unused]] const int rc = sqlite3_close(db_);
    assert(rc == SQLITE_OK);
}

void Connection::check(int rc, std::string_view what) const {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
    throw Error(rc, describe(db_, rc, what), io_errno(db_, rc));
}

void Connection::exec(const char* sql) { check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), sql); }

std::int64_t Connection::query_int(const char* sql) {
    Statement s(*this, sql, false);
    return s.step() ? s.int64(0) : 0;
}

std::string Connection::query_text(const char* sql) {
    Statement s(*this, sql, false);
    return s.step() ? std::string(s.text(0)) : std::string();
}

Statement::Statement(const Connection& db, std::string_view sql, bool persistent) : db_(&db) {
    const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
    db.check(sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()), flags, &stmt_, nullptr),
             "prepare " + std::string(sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_->check(rc, sqlite3_sql(stmt_));
    return false;
}

void Statement::bind(int index, std::int64_t value) {
    db_->check(sqlite3_bind_int64(stmt_, index, value), "bind");
}

void Statement::bind(int index, std::string_view value) {
    // A non-null pointer even for an empty view, so that "" binds as text and not as NULL.
    db_->check(sqlite3_bind_text64(stmt_, index, value.empty() ? "" : value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8),
               "bind");
}

Transaction::Transaction(Connection& db, const char* begin) : db_(db) { db_.exec(begin); }

Transaction::~Transaction() {
    if (done_ || !db_.in_transaction()) return; // SQLite rolls back by itself after some errors
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

} // namespace gridloop::engine::sqlite

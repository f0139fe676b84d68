// Baseline for batched appends (issue 8, item 2): inserts rows into a table identical to the
// engine's (the schema of engine/store.cpp, WAL, synchronous=FULL) with the bare SQLite C API, in
// transactions of a fixed size — no HTTP, no JSON, no decide, no hashing. Not gridloop code: it
// includes sqlite3.h (which only engine/ may) because it measures what SQLite alone allows.
//
// The rows are real ones: those at positions AFTER+1..TO of FROM (what a benchmark just appended
// over HTTP), loaded into memory first, then inserted into INTO (a copy of the log they were
// appended to, or a new file, which gets the engine's schema) with positions continuing its head.
//
// usage: gridloop_bench_bare_append --from FILE --after P --to Q --into FILE [--batch 100]
// prints: rows=N transactions=T seconds=S rows_per_s=R
#include "engine/store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr const char* columns = "position, stream, version, event_id, type, occurred_at, recorded_at, actor, data, prev_hash, hash";

struct Row {
    std::int64_t version;
    std::string text[9]; // stream, event_id, type, occurred_at, recorded_at, actor, data, prev_hash, hash
};

[[noreturn]] void die(sqlite3* db, const std::string& what) {
    std::fprintf(stderr, "gridloop_bench_bare_append: %s: %s\n", what.c_str(), db ? sqlite3_errmsg(db) : "");
    std::exit(1);
}

void exec(sqlite3* db, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) die(db, sql);
}

std::int64_t query_int(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) die(db, sql);
    const std::int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return v;
}

std::vector<Row> load(const char* path, std::int64_t after, std::int64_t to) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) die(db, path);
    const std::string sql = std::string("SELECT ") + columns + " FROM events WHERE position > ?1 AND position <= ?2 ORDER BY position";
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) die(db, sql);
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, to);
    std::vector<Row> rows;
    while (sqlite3_step(s) == SQLITE_ROW) {
        Row& r = rows.emplace_back();
        r.version = sqlite3_column_int64(s, 2);
        int t = 0;
        for (int c : {1, 3, 4, 5, 6, 7, 8, 9, 10})
            r.text[t++].assign(reinterpret_cast<const char*>(sqlite3_column_text(s, c)), static_cast<std::size_t>(sqlite3_column_bytes(s, c)));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows;
}

} // namespace

int main(int argc, char** argv) {
    const char *from = nullptr, *into = nullptr;
    std::int64_t after = -1, to = -1, batch = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--from")) from = argv[i + 1];
        else if (!std::strcmp(argv[i], "--into")) into = argv[i + 1];
        else if (!std::strcmp(argv[i], "--after")) after = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--to")) to = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    }
    if (!from || !into || after < 0 || to < after || batch < 1) {
        std::fprintf(stderr, "usage: gridloop_bench_bare_append --from FILE --after P --to Q --into FILE [--batch 100]\n");
        return 2;
    }
    const std::vector<Row> rows = load(from, after, to);

    sqlite3* db = nullptr;
    if (sqlite3_open_v2(into, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) die(db, into);
    // The engine's pragmas (engine/store.cpp): WAL, its size limit, every commit fsynced.
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA journal_size_limit=67108864");
    exec(db, "PRAGMA synchronous=FULL");
    if (query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'events'") == 0) {
        exec(db, "BEGIN IMMEDIATE");
        exec(db, gridloop::engine::log_schema_sql()); // the engine's own schema, so the table is identical
        exec(db, "COMMIT");
    }
    std::int64_t position = query_int(db, "SELECT max(position) FROM events");
    const std::string sql = std::string("INSERT INTO events(") + columns + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    sqlite3_stmt* insert = nullptr;
    if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr) != SQLITE_OK) die(db, sql);

    const auto start = std::chrono::steady_clock::now();
    std::int64_t transactions = 0;
    for (std::size_t i = 0; i < rows.size(); i += static_cast<std::size_t>(batch)) {
        exec(db, "BEGIN IMMEDIATE");
        const std::size_t end = std::min(rows.size(), i + static_cast<std::size_t>(batch));
        for (std::size_t j = i; j < end; ++j) {
            const Row& r = rows[j];
            sqlite3_bind_int64(insert, 1, ++position);
            sqlite3_bind_int64(insert, 3, r.version);
            int t = 0;
            for (int c : {2, 4, 5, 6, 7, 8, 9, 10, 11})
                sqlite3_bind_text64(insert, c, r.text[t].data(), r.text[t].size(), SQLITE_STATIC, SQLITE_UTF8), ++t;
            if (sqlite3_step(insert) != SQLITE_DONE) die(db, "insert at position " + std::to_string(position));
            sqlite3_reset(insert);
        }
        exec(db, "COMMIT");
        ++transactions;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sqlite3_finalize(insert);
    sqlite3_close(db);
    std::printf("rows=%zu transactions=%lld seconds=%.3f rows_per_s=%.0f\n", rows.size(), static_cast<long long>(transactions), seconds,
                seconds > 0 ? static_cast<double>(rows.size()) / seconds : 0.0);
    return 0;
}

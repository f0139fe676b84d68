// Baseline for replay (issue 8, item 3): reads every row and every byte of a gridloop log with the
// bare SQLite C API and nothing else — no decoding, no fold. Not gridloop code: it includes sqlite3.h
// (which only engine/ may) because it measures what the file and SQLite alone allow.
//
// usage: gridloop_bench_bare_read FILE
// prints: rows=N bytes=B seconds=S rows_per_s=R checksum=C
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace {

int fail(sqlite3* db, const char* what) {
    std::fprintf(stderr, "gridloop_bench_bare_read: %s: %s\n", what, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: gridloop_bench_bare_read FILE\n");
        return 2;
    }
    const auto start = std::chrono::steady_clock::now();
    sqlite3* db = nullptr;
    // The same flags as the engine's readers: read-only, no per-call mutex.
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) return fail(db, "open");
    sqlite3_stmt* s = nullptr;
    const char* sql = "SELECT position, stream, version, event_id, type, occurred_at, recorded_at, actor, data, prev_hash, hash "
                      "FROM events ORDER BY position";
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return fail(db, "prepare");
    std::uint64_t rows = 0, bytes = 0, checksum = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ++rows;
        checksum += static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)) + static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
        for (int c : {1, 3, 4, 5, 6, 7, 8, 9, 10}) {
            const auto* p = sqlite3_column_text(s, c);
            const int n = sqlite3_column_bytes(s, c);
            bytes += static_cast<std::uint64_t>(n);
            // Touch every byte, so that the payload is really read (and not only located).
            std::uint64_t sum = 0;
            for (int i = 0; i < n; ++i) sum += p[i];
            checksum += sum;
        }
    }
    if (rc != SQLITE_DONE) return fail(db, "step");
    sqlite3_finalize(s);
    sqlite3_close(db);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("rows=%llu bytes=%llu seconds=%.3f rows_per_s=%.0f checksum=%llu\n", static_cast<unsigned long long>(rows),
                static_cast<unsigned long long>(bytes), seconds, static_cast<double>(rows) / seconds,
                static_cast<unsigned long long>(checksum));
    return 0;
}

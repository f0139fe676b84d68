// Micro-benchmark of the replay path's decoding side (issue 8, item 3): what one stored row costs to
// read from the store, to parse as JSON, and to decode into an Envelope (events::from_raw).
//
// usage: gridloop_bench_decode FILE [ROWS] [REPEATS]
// Reads ROWS rows (default 200000) from the start of the log into memory, then times, REPEATS times
// each (default 5, the median is printed), in nanoseconds per row of thread CPU time:
//   scan    StoreReader::scan over those rows (SQLite step and the copy into a RawEnvelope)
//   parse   nlohmann::json::parse of `data` alone (the DOM the HTTP path builds)
//   decode  events::from_raw: the parse, the strict decoder and the envelope's times and strings
//   stored  events::decode_stored alone (simdjson and the strict decoder)
//   dom     events::decode_event on nlohmann's DOM, parse included (the request path)
// and checks that the last two decode every row to the same event.
#include "engine/store.hpp"
#include "events/envelope.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

using namespace gridloop;

namespace {

double thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <class F> double median_ns_per_row(int repeats, std::size_t rows, F&& body) {
    std::vector<double> runs;
    for (int i = 0; i < repeats; ++i) {
        const double start = thread_cpu_ns();
        body();
        runs.push_back((thread_cpu_ns() - start) / static_cast<double>(rows));
    }
    std::sort(runs.begin(), runs.end());
    return runs[runs.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 4) {
        std::fprintf(stderr, "usage: gridloop_bench_decode FILE [ROWS] [REPEATS]\n");
        return 2;
    }
    const std::int64_t want = argc > 2 ? std::stoll(argv[2]) : 200000;
    const int repeats = argc > 3 ? std::stoi(argv[3]) : 5;
    engine::StoreReader store(argv[1]);
    const std::int64_t last = std::min(want, store.head().position);

    std::vector<events::RawEnvelope> rows;
    rows.reserve(static_cast<std::size_t>(last));
    store.scan(0, last, [&](const events::RawEnvelope& r) {
        rows.push_back(r);
        return true;
    });
    const std::size_t n = rows.size();
    std::size_t bytes = 0;
    for (const auto& r : rows) bytes += r.data.size();

    std::size_t sink = 0;
    const double scan = median_ns_per_row(repeats, n, [&] {
        store.scan(0, last, [&](const events::RawEnvelope& r) {
            sink += r.data.size();
            return true;
        });
    });
    const double parse = median_ns_per_row(repeats, n, [&] {
        for (const auto& r : rows) sink += nlohmann::json::parse(r.data).size();
    });
    std::size_t failed = 0;
    const double decode = median_ns_per_row(repeats, n, [&] {
        for (const auto& r : rows) {
            auto env = events::from_raw(r);
            if (!env) ++failed;
            else sink += env->event.index();
        }
    });
    const double stored = median_ns_per_row(repeats, n, [&] {
        for (const auto& r : rows) sink += events::decode_stored(r.type, r.data) ? 1 : 0;
    });
    const double dom = median_ns_per_row(repeats, n, [&] {
        for (const auto& r : rows) sink += events::decode_event(r.type, nlohmann::json::parse(r.data)) ? 1 : 0;
    });
    std::size_t differ = 0;
    for (const auto& r : rows) {
        const auto a = events::decode_stored(r.type, r.data);
        const auto b = events::decode_event(r.type, nlohmann::json::parse(r.data));
        if (bool(a) != bool(b) || (a && !(*a == *b)) || (!a && a.error().message != b.error().message)) ++differ;
    }
    std::printf("rows=%zu data_bytes_per_row=%.0f scan_ns=%.0f nlohmann_parse_ns=%.0f from_raw_ns=%.0f decode_stored_ns=%.0f "
                "decode_event_dom_ns=%.0f failed=%zu differ=%zu sink=%zu\n",
                n, static_cast<double>(bytes) / static_cast<double>(n), scan, parse, decode, stored, dom, failed, differ, sink);
    return failed || differ ? 1 : 0;
}

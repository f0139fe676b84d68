// The replay fold three ways on the same file, back to back (issue 8, item 3):
//   sequential  StoreReader::scan, events::from_raw and Model::apply on one thread (engine::fold's way)
//   pipelined   engine::scan_decoded: rows read and decoded on a second thread, Model::apply here
//   read+decode engine::scan_decoded with nothing to apply: what the reading side alone costs
// Each prints events, wall seconds, process CPU seconds (both threads) and events per second of each.
//
// usage: gridloop_bench_fold FILE [LAST] [MODES] [BATCH_ROWS QUEUE_BATCHES]
// LAST: fold positions 1..LAST (default: the head). MODES: any of s, p, r (default "spr"). The last two
// override engine::ReplayOptions' defaults.
#include "engine/replay.hpp"
#include "engine/store.hpp"
#include "projections/model.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

using namespace gridloop;

namespace {

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

template <class F> void measure(const char* mode, F&& run) {
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t events = run();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    std::printf("%-11s events=%lld wall_s=%.2f cpu_s=%.2f events_per_s=%.0f events_per_cpu_s=%.0f us_per_event_cpu=%.2f\n", mode,
                static_cast<long long>(events), wall, cpu, static_cast<double>(events) / wall, static_cast<double>(events) / cpu,
                cpu * 1e6 / static_cast<double>(events));
    std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 6 || argc == 5) {
        std::fprintf(stderr, "usage: gridloop_bench_fold FILE [LAST] [MODES] [BATCH_ROWS QUEUE_BATCHES]\n");
        return 2;
    }
    engine::StoreReader store(argv[1]);
    const std::int64_t last = argc > 2 && std::stoll(argv[2]) > 0 ? std::stoll(argv[2]) : store.head().position;
    const std::string modes = argc > 3 ? argv[3] : "spr";
    engine::ReplayOptions options;
    if (argc == 6) {
        options.batch_rows = std::stoul(argv[4]);
        options.queue_batches = std::stoul(argv[5]);
    }

    for (char m : modes) {
        if (m == 's') {
            measure("sequential", [&] {
                projections::Model model;
                std::string prev = events::zero_hash();
                store.scan(0, last, [&](const events::RawEnvelope& raw) {
                    if (raw.prev_hash != prev) throw std::runtime_error("position " + std::to_string(raw.position) + ": the hash chain is broken");
                    prev = raw.hash;
                    auto env = events::from_raw(raw);
                    if (!env) throw std::runtime_error(env.error().message);
                    model.apply(*env);
                    return true;
                });
                return model.position();
            });
        } else if (m == 'p') {
            measure("pipelined", [&] {
                projections::Model model;
                engine::scan_decoded(store, 0, last, [&](const events::Envelope& e) {
                    model.apply(e);
                    return true;
                }, options);
                return model.position();
            });
        } else if (m == 'r') {
            measure("read+decode", [&] {
                std::int64_t n = 0;
                engine::scan_decoded(store, 0, last, [&](const events::Envelope&) {
                    ++n;
                    return true;
                }, options);
                return n;
            });
        }
    }
    return 0;
}

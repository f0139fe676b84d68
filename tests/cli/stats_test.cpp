// The statistics kept by the fold (projections/stats) against a plain scan of every case, on the
// sample town and a synthetic city loaded through the real engine: every grid, many periods (whole
// local days, odd instants, open ends, empty), several evaluation times and several log positions.
#include "cli/load.hpp"
#include "engine/engine.hpp"
#include "projections/metrics.hpp"
#include "samples/synth.hpp"
#include "tests/support/fold.hpp"
#include "tests/support/sample_town.hpp"
#include "tests/support/temp_db.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

namespace {

using namespace gridloop;
using events::CaseState;
using events::Instant;
using projections::Case;
using projections::Metrics;
using projections::Model;
using projections::Period;

// The contract's definitions read straight off the cases, the way a reviewer would check them.
Metrics scanned_metrics(const Model& model, std::string_view root, const Period& period, Instant now) {
    Metrics m;
    std::vector<std::int64_t> handle_ms;
    for (const auto& grid_id : model.subtree(root)) {
        for (const Case* c : model.cases_in(grid_id)) {
            if (!period.contains(c->reported_at)) continue;
            ++m.reported;
            switch (c->state) {
            case CaseState::open: ++m.open; break;
            case CaseState::handled: ++m.handled; break;
            case CaseState::fed_back: ++m.fed_back; break;
            case CaseState::closed: ++m.closed; break;
            case CaseState::dismissed: ++m.dismissed; break;
            }
            const auto rung = static_cast<std::size_t>(c->rung);
            if (c->overdue(now)) ++m.overdue, ++m.overdue_by_rung[rung];
            if (c->state == CaseState::open) ++m.open_by_rung[rung];
            ++m.categories[c->category];
            if (c->timeouts > 0) ++m.timed_out;
            if (c->state == CaseState::closed && c->solved == events::Solved::yes) ++m.closed_solved;
            if (c->handled_at && c->state != CaseState::open && c->state != CaseState::dismissed) {
                ++m.handled_total;
                if (c->handled_on_time) ++m.handled_on_time;
                handle_ms.push_back(c->handle_working_ms);
            }
            if (c->ratings > 0) {
                ++m.rated;
                m.ratings += c->ratings;
                m.ratings_satisfied += c->ratings_satisfied;
                if (c->round > 1) ++m.reopened;
            }
            if (c->state == CaseState::closed && c->highest_rung <= events::Rung::micro_head) ++m.closed_in_grid;
            for (const auto& [dept, n] : c->returns_by_dept) m.returns[dept] += n;
        }
        for (const auto* member : model.residents_of(grid_id)) {
            ++m.members;
            if (member->lost_contact(now, model.config())) ++m.lost_contact;
        }
    }
    if (!handle_ms.empty()) {
        std::sort(handle_ms.begin(), handle_ms.end());
        const auto n = handle_ms.size();
        const double mid = n % 2 ? static_cast<double>(handle_ms[n / 2])
                                 : (static_cast<double>(handle_ms[n / 2 - 1]) + static_cast<double>(handle_ms[n / 2])) / 2;
        m.median_handle_hours = mid / 3'600'000.0;
    }
    return m;
}

std::vector<projections::DailyPoint> scanned_daily(const Model& model, std::string_view root, std::chrono::local_days first,
                                                   std::chrono::local_days last, Instant now) {
    std::vector<projections::DailyPoint> out;
    for (auto d = first; d <= last; d += std::chrono::days(1)) out.push_back({d});
    const auto& calendar = model.config().calendar;
    auto at = [&](Instant t) -> projections::DailyPoint* {
        const auto d = calendar.local_day(t);
        return d < first || d > last ? nullptr : &out[static_cast<std::size_t>((d - first).count())];
    };
    for (const auto& grid_id : model.subtree(root)) {
        for (const Case* c : model.cases_in(grid_id)) {
            if (auto* p = at(c->reported_at)) ++p->reported;
            if (c->state == CaseState::closed)
                if (auto* p = at(c->timeline.back().recorded_at)) ++p->closed;
            for (const auto& e : c->timeline)
                if (model.name(e.actor) == "system" && (e.type_name() == "IssueEscalated" || e.type_name() == "IssueSupervised"))
                    if (auto* p = at(e.recorded_at)) ++p->overdue;
            if (c->overdue(now))
                if (auto* p = at(c->due_at)) ++p->overdue;
        }
    }
    return out;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// Compares every grid of `model` over many periods and times; returns how many comparisons passed.
int compare_everything(const Model& model, std::uint32_t seed) {
    std::vector<Instant> reports;
    for (const auto& [_, c] : model.cases()) reports.push_back(c.reported_at);
    REQUIRE(!reports.empty());
    const auto [lo, hi] = std::minmax_element(reports.begin(), reports.end());
    const auto& calendar = model.config().calendar;
    std::mt19937_64 rng(seed);
    const auto span = (*hi - *lo).count() + 1;
    auto random_instant = [&] { return *lo + std::chrono::milliseconds(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span))); };
    auto local_midnight = [&](Instant t) { return calendar.midnight(calendar.local_day(t)); };
    auto utc_midnight = [](Instant t) -> Instant { return std::chrono::floor<std::chrono::days>(t); };

    std::vector<Period> periods{{}, {std::nullopt, *hi}, {*lo, std::nullopt}, {*hi, *lo}};
    for (int i = 0; i < 12; ++i) {
        auto a = random_instant(), b = random_instant();
        if (b < a) std::swap(a, b);
        periods.push_back({a, b});                                   // odd instants
        periods.push_back({local_midnight(a), local_midnight(b)});   // whole local days, as the dashboard asks
        periods.push_back({utc_midnight(a), utc_midnight(b)});       // whole UTC days: the index's own days, nothing scanned
        periods.push_back({a, a + std::chrono::hours(5)});           // inside one day
        periods.push_back({i % 2 ? std::optional<Instant>{} : a, i % 2 ? std::optional<Instant>{b} : std::nullopt});
    }
    const Instant head = model.recorded_at();
    int checked = 0;
    for (const Instant now : {head, head + std::chrono::hours(30), head + std::chrono::days(200), random_instant()}) {
        for (const auto& [grid_id, _] : model.grids()) {
            for (const auto& p : periods) {
                const auto metrics = projections::compute_metrics(model, grid_id, p, now);
                const auto got = projections::to_json(metrics);
                const auto want = projections::to_json(scanned_metrics(model, grid_id, p, now));
                std::string text; // what the stats request answers, written without the DOM
                projections::write_json(text, metrics);
                if (got != want || text != dump(got)) {
                    FAIL_CHECK("grid " << grid_id << " period [" << (p.from ? events::format_time(*p.from) : "-") << ", "
                                       << (p.to ? events::format_time(*p.to) : "-") << ") at " << events::format_time(now) << "\n got "
                                       << got.dump() << "\nwant " << want.dump() << "\ntext " << text);
                    return checked;
                }
                ++checked;
            }
            const auto [first, last] = projections::series_days({*lo, head}, now, calendar);
            const auto series = projections::daily_series(model, grid_id, first, last, now);
            const auto got = projections::to_json(series);
            const auto want = projections::to_json(scanned_daily(model, grid_id, first, last, now));
            std::string text;
            projections::write_json(text, series);
            CHECK_MESSAGE(got == want, "daily series of " << grid_id);
            CHECK_MESSAGE(text == dump(got), "daily series of " << grid_id << " as text");
            ++checked;
        }
    }
    return checked;
}

// Folds the log at a few positions (what as_of sees) and compares each, with the statistics built in
// one pass (engine::fold) and kept up to date event by event (the running engine).
void compare_at_positions(const std::string& path, std::uint32_t seed) {
    const engine::StoreReader store(path);
    const std::int64_t n = store.head().position;
    for (const std::int64_t p : {n / 5, n / 2, n * 4 / 5, n}) {
        CAPTURE(p);
        CHECK(compare_everything(engine::fold(store, p), seed + static_cast<std::uint32_t>(p)) > 0);
        CHECK(compare_everything(testing::fold_event_by_event(store, p), seed + static_cast<std::uint32_t>(p)) > 0);
    }
}

} // namespace

TEST_SUITE("cli") {
    TEST_CASE("stats kept by the fold equal a scan of the sample town's cases") {
        testing::TempDb db("stats-town");
        {
            engine::SystemClock clock;
            engine::Engine engine(db.path(), clock);
            const auto r = testing::load_sample_town(engine);
            REQUIRE(r.refused.empty());
            REQUIRE(r.timeouts > 0);
        }
        compare_at_positions(db.path(), 7);
    }

    TEST_CASE("stats kept by the fold equal a scan of a synthetic city's cases") {
        testing::TempDb db("stats-synth");
        {
            engine::SystemClock clock;
            engine::Engine engine(db.path(), clock);
            samples::Synth synth({30'000, 3});
            const auto r = cli::load(engine, [&](samples::Step& s) { return synth.next(s); }, 4096);
            REQUIRE(r.refused.empty());
        }
        compare_at_positions(db.path(), 11);
    }
}

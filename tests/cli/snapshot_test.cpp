// Snapshots of the read model: a model loaded from a snapshot is the model the fold gives (every view
// a reader can ask for, and every byte of its next snapshot), it folds on from there exactly as the
// full fold does, and the engine starts from the newest usable one, passing over damaged, foreign,
// truncated and older-format files with a note.
#include "cli/load.hpp"
#include "engine/engine.hpp"
#include "http/views.hpp"
#include "projections/members.hpp"
#include "projections/metrics.hpp"
#include "projections/snapshot.hpp"
#include "samples/synth.hpp"
#include "tests/support/fold.hpp"
#include "tests/support/sample_town.hpp"
#include "tests/support/temp_db.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <variant>
#include <thread>

namespace {

using namespace gridloop;
using events::Instant;
using nlohmann::json;
using projections::Case;
using projections::Model;
namespace fs = std::filesystem;

using Parts = projections::snapshot::Parts;

Parts bytes_of(const Model& m) {
    Parts b;
    projections::save(m, b);
    return b;
}

// Loads from parts in memory, each opened exactly once (perhaps on another thread: no REQUIRE there).
Model reload(const Parts& parts) {
    std::array<bool, std::tuple_size_v<Parts>> opened{};
    return projections::load([&](std::size_t i) {
        if (i >= parts.size() || std::exchange(opened[i], true)) throw std::logic_error("part " + std::to_string(i) + " opened twice or unknown");
        return projections::snapshot::In(
            [bytes = parts[i].str(), at = std::size_t(0)](char* buf, std::size_t n) mutable {
                n = std::min(n, bytes.size() - at);
                std::memcpy(buf, bytes.data() + at, n);
                at += n;
                return n;
            },
            parts[i].size());
    });
}

// Everything a reader can be shown of a model at `now`: each case with its timeline, each grid's
// statistics over three periods and its daily series, cases, residents and branch members by grid,
// member lists with lost contact, department queues, and where each micro-grid's corners route.
json views(const Model& m, Instant now) {
    using namespace std::chrono;
    json j;
    j["head"] = {m.position(), m.head_hash(), m.recorded_at().time_since_epoch().count(), m.config().version};
    for (const auto& [id, c] : m.cases()) j["cases"][id] = http::case_json(m, c, now, true);
    const auto today = m.config().calendar.local_day(now);
    for (const auto& [id, g] : m.grids()) {
        json& v = j["grids"][id];
        v["all"] = projections::to_json(projections::compute_metrics(m, id, {}, now));
        v["30d"] = projections::to_json(projections::compute_metrics(m, id, {now - days(30), now}, now));
        v["odd"] = projections::to_json(projections::compute_metrics(m, id, {now - hours(24 * 47 + 5) - milliseconds(17), std::nullopt}, now));
        v["daily"] = projections::to_json(projections::daily_series(m, id, today - days(40), today, now));
        for (const auto* c : m.cases_in(id)) v["cases"].push_back(c->case_id);
        for (const auto* r : m.residents_of(id)) v["residents"].push_back(r->member_id);
        for (const auto* r : m.members_of_branch(id)) v["branch"].push_back(r->member_id);
        v["members"] = projections::to_json(projections::list_members(m, {id, std::nullopt, std::nullopt}, now), true);
        v["lost"] = projections::to_json(projections::lost_contact_members(m, id, now), true);
        if (g.boundary)
            for (const auto& p : g.boundary->rings.front()) {
                v["route"].push_back(m.route(p[1], p[0]).value_or("-"));
                const auto n = m.nearest_micro(p[1] + 0.001, p[0] - 0.002);
                v["nearest"].push_back(n ? json{n->grid_id, n->metres} : json());
            }
    }
    for (const auto& [id, d] : m.departments()) {
        for (const auto* c : m.department_queue(id)) j["queues"][id].push_back(c->case_id);
        std::set<std::string> touched; // in no particular order
        for (const auto* c : m.cases_of_department(id)) CHECK(touched.insert(c->case_id).second);
        j["touched"][id] = touched;
    }
    for (const auto* c : m.reported()) j["reported"].push_back(c->case_id); // Open311's listing walks it
    for (const auto& [code, first] : m.categories()) j["categories"][code] = first.time_since_epoch().count(); // and its services
    // The scheduler's queue, kept event by event by the fold and rebuilt from the cases on a load.
    std::vector<std::tuple<std::int64_t, std::int64_t, std::string>> due;
    for (const auto& block : m.open_by_due().blocks())
        for (const auto& o : block) due.emplace_back(o.due.time_since_epoch().count(), o.reported.time_since_epoch().count(), o.c->case_id);
    CHECK(std::is_sorted(due.begin(), due.end(), [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); }));
    std::sort(due.begin(), due.end());
    j["open_by_due"] = due;
    return j;
}

void load_synth(const std::string& db, std::int64_t events, engine::SnapshotOptions options = {true, 0, 0, 4}) {
    engine::SystemClock clock;
    engine::Engine engine(db, clock, {}, options);
    samples::Synth synth({static_cast<std::uint64_t>(events), 5});
    const auto r = cli::load(engine, [&](samples::Step& s) { return synth.next(s); }, 2048);
    REQUIRE(r.refused.empty());
}

void load_town(const std::string& db) {
    engine::SystemClock clock;
    engine::Engine engine(db, clock, {}, {true, 0, 0, 4});
    REQUIRE(testing::load_sample_town(engine).refused.empty());
}

// Writes the model folded to `position` as a snapshot of the log at `db`.
fs::path snapshot_at(const std::string& db, std::int64_t position) {
    engine::StoreReader store(db);
    const Model m = engine::fold(store, position);
    return engine::Snapshots(db).write(m.position(), m.head_hash(), bytes_of(m), 10);
}

void patch(const fs::path& file, std::uintmax_t offset, const std::string& bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool any_note(const engine::Engine& e, const std::string& part) {
    for (const auto& n : e.start_notes())
        if (n.find(part) != std::string::npos) return true;
    return false;
}

} // namespace

TEST_SUITE("cli") {
    TEST_CASE("the model lists its cases in report order even when a report's recorded_at goes backwards") {
        testing::TempDb db("report-order");
        load_town(db.path());
        // The engine never records a time earlier than the one before; a fold of envelopes that
        // break that rule still keeps reported() sorted, as a snapshot's load sorts it.
        Model m;
        int moved = 0;
        const engine::StoreReader store(db.path());
        engine::scan_decoded(store, 0, store.head().position, [&](const events::Envelope& env) {
            if (std::holds_alternative<events::IssueReported>(env.event) && ++moved % 3 == 0) {
                events::Envelope earlier = env;
                earlier.recorded_at -= std::chrono::days(40);
                m.apply(earlier);
            } else {
                m.apply(env);
            }
            return true;
        });
        REQUIRE(moved > 30);
        const auto& listed = m.reported();
        REQUIRE(listed.size() == m.cases().size());
        CHECK(std::is_sorted(listed.begin(), listed.end(), [](const Case* a, const Case* b) {
            return std::pair(a->reported_at, a->timeline.front().position) < std::pair(b->reported_at, b->timeline.front().position);
        }));
        CHECK(std::set<const Case*>(listed.begin(), listed.end()).size() == listed.size());
    }

    TEST_CASE("a snapshot of the sample town loads into the model the fold gives") {
        testing::TempDb db("snap-town");
        load_town(db.path());
        const Model folded = engine::fold(engine::StoreReader(db.path()));
        const Parts bytes = bytes_of(folded);
        const Model loaded = reload(bytes);
        CHECK(bytes_of(loaded) == bytes);
        Parts swapped = bytes, longer = bytes;
        std::swap(swapped[1], swapped[2]);
        CHECK_THROWS_WITH_AS(reload(swapped), "snapshot: the halves of the cases overlap", projections::snapshot::Error);
        longer[4].push_back('\0');
        CHECK_THROWS_WITH_AS(reload(longer), "snapshot: part 4 has bytes left over", projections::snapshot::Error);
        for (const auto later : {std::chrono::hours(0), std::chrono::hours(24 * 61 + 3)}) {
            const Instant now = folded.recorded_at() + later;
            const json a = views(folded, now), b = views(loaded, now);
            REQUIRE(a["cases"].size() > 200);
            CHECK(a == b);
        }
    }

    TEST_CASE("statistics built in one pass or caught up after a snapshot equal those kept event by event, byte for byte") {
        testing::TempDb town("bulk-town"), synth("bulk-synth");
        load_town(town.path());
        load_synth(synth.path(), 20'000);
        for (const auto* db : {&town, &synth}) {
            engine::StoreReader store(db->path());
            const std::int64_t head = store.head().position;
            for (const std::int64_t p : {head / 4, head * 3 / 5, head}) {
                CAPTURE(db->path());
                CAPTURE(p);
                Model bulk;
                bulk.defer_stats();
                engine::scan_decoded(store, 0, p, [&](const events::Envelope& env) {
                    bulk.apply(env);
                    return true;
                });
                bulk.settle_stats();
                const Model one_by_one = testing::fold_event_by_event(store, p);
                CHECK(bytes_of(bulk) == bytes_of(one_by_one));
                CHECK(views(bulk, bulk.recorded_at()) == views(one_by_one, bulk.recorded_at()));
                // From a snapshot part of the way: the cases and members touched since are caught up.
                for (const std::int64_t from : {std::int64_t{1}, p / 3, p - 1}) {
                    CAPTURE(from);
                    Model caught = reload(bytes_of(testing::fold_event_by_event(store, from)));
                    engine::fold_onto(caught, store, p);
                    CHECK(bytes_of(caught) == bytes_of(one_by_one));
                }
            }
        }
    }

    TEST_CASE("a model loaded from a snapshot mid-log folds on to the model of the whole log") {
        testing::TempDb db("snap-synth");
        load_synth(db.path(), 20'000);
        engine::StoreReader store(db.path());
        const std::int64_t head = store.head().position;
        const Model whole = engine::fold(store);
        const Parts whole_bytes = bytes_of(whole);
        const json whole_views = views(whole, whole.recorded_at());
        for (const std::int64_t p : {std::int64_t{1}, head / 3, head * 2 / 3, head - 1, head}) {
            CAPTURE(p);
            Model m = reload(bytes_of(engine::fold(store, p)));
            CHECK(m.position() == p);
            engine::fold_onto(m, store);
            CHECK(bytes_of(m) == whole_bytes);
            CHECK(views(m, whole.recorded_at()) == whole_views);
        }
    }

    TEST_CASE("the engine starts from the newest usable snapshot and passes over damaged foreign and truncated ones") {
        testing::TempDb db("snap-start"), town("snap-foreign");
        load_synth(db.path(), 12'000);
        load_town(town.path());
        const std::int64_t head = engine::StoreReader(db.path()).head().position;
        const Model whole = engine::fold(engine::StoreReader(db.path()));
        const json expected = views(whole, whole.recorded_at());
        engine::SystemClock clock;
        const auto started = [&](const std::string& note_part, std::int64_t from) {
            engine::Engine e(db.path(), clock, {}, {true, 0, 0, 10});
            CHECK(e.started_from() == from);
            if (!note_part.empty()) CHECK(any_note(e, note_part));
            else CHECK(e.start_notes().empty());
            CHECK(e.head().position == head);
            CHECK(e.read([&](const Model& m) { return views(m, whole.recorded_at()); }) == expected);
        };

        started("", 0); // no snapshot yet
        const auto older = snapshot_at(db.path(), head / 2);
        started("", head / 2);
        const auto newer = snapshot_at(db.path(), head - 100);
        started("", head - 100);

        // Damage in the body: the SHA-256 in the header no longer matches; the older one is used.
        const auto size = fs::file_size(newer);
        patch(newer, size - 1000, "\x7f\x7f\x7f");
        started(newer.string(), head / 2);

        // Cut short.
        fs::resize_file(newer, size / 2);
        started("truncated", head / 2);

        // A format this build does not read.
        fs::remove(newer);
        patch(snapshot_at(db.path(), head - 100), 16, std::string("\x63\x00\x00\x00", 4));
        started("format 99", head / 2);
        fs::remove(newer);

        // Damage in the table of parts, just past the 132-byte header.
        patch(snapshot_at(db.path(), head - 100), 132 + 4 + 2, "\x7f");
        started("its table of parts does not match its SHA-256", head / 2);
        fs::remove(newer);

        // A snapshot of another log (the sample town) at a position this log has: its hash differs.
        fs::remove(older);
        const std::int64_t town_head = engine::StoreReader(town.path()).head().position;
        REQUIRE(town_head < head);
        const auto foreign = snapshot_at(town.path(), town_head);
        fs::copy_file(foreign, engine::Snapshots(db.path()).dir() / foreign.filename());
        started("the log holds another event at position " + std::to_string(town_head), 0);
    }

    TEST_CASE("the engine takes snapshots every N events while running and at a clean stop keeping K spread over the log") {
        testing::TempDb db("snap-every");
        load_synth(db.path(), 12'000, {true, 3'000, 1, 2});
        const engine::Snapshots snaps(db.path());
        const auto files = snaps.list();
        const std::int64_t head = engine::StoreReader(db.path()).head().position;
        REQUIRE(files.size() == 2);
        CHECK(files.back().position == head); // at the stop
        CHECK(head - files.front().position >= 3'000); // not the one just before it: kept ones spread over the log
        // The one taken while running (by a child process, forked mid-load) holds the model the fold
        // gives at its position, byte for byte.
        {
            engine::StoreReader store(db.path());
            std::vector<std::string> notes;
            const auto loaded = snaps.load_newest(store, files.front().position, notes);
            REQUIRE(loaded);
            CHECK(loaded->position() == files.front().position);
            CHECK(bytes_of(*loaded) == bytes_of(engine::fold(store, files.front().position)));
        }
        engine::SystemClock clock;
        engine::Engine e(db.path(), clock, {}, {true, 3'000, 0, 2});
        CHECK(e.started_from() == head);
        CHECK(e.start_notes().empty());
        CHECK(e.stats().snapshots.load() == 0);
    }

    TEST_CASE("snapshots are thinned to K spread over the log: never the newest, no gap over 1.6 x newest / K") {
        using engine::thin;
        CHECK(thin({1, 2, 3}, 0).empty());
        CHECK(thin({1, 2, 3}, 3).empty());
        CHECK(thin({1, 2, 3}, 1) == std::vector<std::size_t>{0, 1});
        CHECK(thin({10, 11, 12, 40}, 3) == std::vector<std::size_t>{1}); // 11: its removal leaves the smallest gap
        for (const std::size_t keep : {3, 4, 8, 12}) {
            // A server taking one every million events up to 60 million.
            std::vector<std::int64_t> kept;
            for (std::int64_t p = 1'000'000; p <= 60'000'000; p += 1'000'000) {
                kept.push_back(p);
                const auto removed = thin(kept, keep);
                CHECK(std::is_sorted(removed.begin(), removed.end()));
                for (auto i = removed.rbegin(); i != removed.rend(); ++i) kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(*i));
                CAPTURE(keep);
                CAPTURE(p);
                REQUIRE(kept.size() == std::min<std::size_t>(keep, static_cast<std::size_t>(p / 1'000'000)));
                CHECK(kept.back() == p);
                std::int64_t widest = kept.front();
                for (std::size_t i = 1; i < kept.size(); ++i) widest = std::max(widest, kept[i] - kept[i - 1]);
                if (p >= 3 * static_cast<std::int64_t>(keep) * 1'000'000) CHECK(static_cast<double>(widest) <= 1.65 * static_cast<double>(p) / static_cast<double>(keep));
            }
        }
    }

    TEST_CASE("what a cut-short snapshot write leaves is removed, and never listed") {
        testing::TempDb db("snap-cut");
        load_synth(db.path(), 2'000);
        const engine::Snapshots snaps(db.path());
        fs::create_directories(snaps.dir());
        const fs::path tmp = snaps.dir() / "00000000000000001234.snap.tmp";
        std::ofstream(tmp) << "half a snapshot";
        const auto before = snaps.list();
        CHECK(std::none_of(before.begin(), before.end(), [](const auto& e) { return e.position == 1234; }));
        snaps.remove_unfinished(1234);
        CHECK_FALSE(fs::exists(tmp));
        CHECK(snaps.list().size() == before.size());
        snaps.remove_unfinished(1234); // nothing there: no error
    }

    TEST_CASE("snapshots of a log since replaced at the same path do not push out the new log's own") {
        testing::TempDb db("snap-replaced");
        load_synth(db.path(), 3'000);
        const std::int64_t head = engine::StoreReader(db.path()).head().position;
        const engine::Snapshots snaps(db.path());
        // Snapshots of another, longer log that stood at this path: past this log's head.
        const auto own = snapshot_at(db.path(), head);
        for (const std::int64_t p : {head + 10, head + 20}) {
            const std::string digits = std::to_string(p);
            fs::copy_file(own, snaps.dir() / (std::string(20 - digits.size(), '0') + digits + ".snap"));
        }
        fs::remove(own);
        engine::SystemClock clock;
        {
            engine::Engine e(db.path(), clock, {}, {true, 0, 0, 1}); // keep 1
            CHECK(e.started_from() == 0);
            REQUIRE(e.snapshot());
        }
        const auto files = snaps.list();
        REQUIRE(files.size() == 3); // its own, and the two it cannot judge
        CHECK(files.front().position == head);
        engine::Engine e(db.path(), clock, {}, {true, 0, 0, 1});
        CHECK(e.started_from() == head);
    }

    TEST_CASE("as_of folds from the newest snapshot at or before it") {
        testing::TempDb db("snap-asof");
        load_synth(db.path(), 8'000);
        engine::StoreReader store(db.path());
        const std::int64_t head = store.head().position;
        snapshot_at(db.path(), head / 2);
        engine::SystemClock clock;
        engine::Engine e(db.path(), clock, {}, {true, 0, 0, 4});
        for (const std::int64_t p : {std::int64_t{1}, head / 2 - 1, head / 2, head / 2 + 1, head - 7, head})
            CHECK(bytes_of(e.model_at(p)) == bytes_of(engine::fold(store, p)));
    }
}

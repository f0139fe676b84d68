// A real engine on a fresh SQLite file in the temp directory, a hand-set clock, and a tiny town.
#pragma once

#include "engine/engine.hpp"
#include "tests/support/temp_db.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

namespace gridloop::testing {

struct EngineFixture {
    TempDb db{"engine"};
    std::string path = db.path();
    engine::ManualClock clock{*events::parse_time("2026-11-16T09:00:00+08:00")}; // a Monday morning
    std::unique_ptr<engine::Engine> engine = std::make_unique<engine::Engine>(path, clock);

    ~EngineFixture() { engine.reset(); }

    events::Result<engine::Appended> post(const nlohmann::json& j, const std::string& actor = "admin") {
        auto p = events::decode_posted(j);
        if (!p) return p.error();
        return engine->append(engine::Submission{{std::move(*p)}, actor, std::nullopt});
    }
    events::Result<engine::Appended> post_all(const nlohmann::json& list, const std::string& actor = "admin") {
        std::vector<events::Posted> batch;
        for (const auto& j : list) {
            auto p = events::decode_posted(j);
            if (!p) return p.error();
            batch.push_back(std::move(*p));
        }
        return engine->append(engine::Submission{std::move(batch), actor, std::nullopt});
    }
    static nlohmann::json ev(const std::string& type, nlohmann::json data) { return {{"type", type}, {"data", std::move(data)}}; }
    // A patrol report of case `id` in micro-grid `grid`.
    static nlohmann::json report(const std::string& id, const std::string& grid = "m1") {
        return ev("IssueReported", {{"case_id", id}, {"category", "garbage"}, {"description", "垃圾堆放"}, {"source", "patrol"}, {"grid_id", grid}});
    }

    // town t → community c → grid g → micro m1, m2; micro m3 directly under c; department d serving
    // c, department far serving a second town t2.
    void small_town() {
        using nlohmann::json;
        const json org = json::array({
            ev("GridDefined", {{"grid_id", "t"}, {"name", "宝华镇"}, {"level", "town"}, {"parent_id", nullptr}}),
            ev("GridDefined", {{"grid_id", "c"}, {"name", "新城社区"}, {"level", "community"}, {"parent_id", "t"}}),
            ev("GridDefined", {{"grid_id", "g"}, {"name", "第一网格"}, {"level", "grid"}, {"parent_id", "c"}}),
            ev("GridDefined", {{"grid_id", "m1"}, {"name", "一号楼"}, {"level", "micro"}, {"parent_id", "g"}}),
            ev("GridDefined", {{"grid_id", "m2"}, {"name", "二号楼"}, {"level", "micro"}, {"parent_id", "g"}}),
            ev("GridDefined", {{"grid_id", "m3"}, {"name", "三号楼"}, {"level", "micro"}, {"parent_id", "c"}}),
            ev("GridDefined", {{"grid_id", "t2"}, {"name", "邻镇"}, {"level", "town"}, {"parent_id", nullptr}}),
            ev("DepartmentRegistered", {{"dept_id", "d"}, {"name", "城管中队"}, {"kind", "city_management"}, {"serves", {"c"}}}),
            ev("DepartmentRegistered", {{"dept_id", "far"}, {"name", "邻镇派出所"}, {"kind", "police"}, {"serves", {"t2"}}}),
        });
        auto r = post_all(org);
        if (!r) throw std::runtime_error(r.error().message);
    }
};

} // namespace gridloop::testing

// Grid boundaries: validation, point-in-polygon edge cases, R-tree routing against brute force,
// the nearest-grid refusal, and routing in the batch that defines the grid. Through the real engine.
#include "projections/geo.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace gridloop;
using events::errc;
using nlohmann::json;
using testing::EngineFixture;
namespace geo = projections::geo;

namespace {

// A closed ring around [lng0,lng1] × [lat0,lat1], counter-clockwise.
events::Ring rect(double lng0, double lat0, double lng1, double lat1) {
    return {{lng0, lat0}, {lng1, lat0}, {lng1, lat1}, {lng0, lat1}, {lng0, lat0}};
}
json geojson(const std::vector<events::Ring>& rings) {
    json coords = json::array();
    for (const auto& r : rings) {
        json ring = json::array();
        for (const auto& [lng, lat] : r) ring.push_back({lng, lat});
        coords.push_back(ring);
    }
    return {{"type", "Polygon"}, {"coordinates", coords}};
}
json grid(const std::string& id, const std::string& level, const json& parent, const std::vector<events::Ring>& rings) {
    json d = {{"grid_id", id}, {"name", id}, {"level", level}, {"parent_id", parent}};
    if (!rings.empty()) d["boundary"] = geojson(rings);
    return EngineFixture::ev("GridDefined", d);
}
json at(const std::string& id, double lat, double lng) {
    return EngineFixture::ev("IssueReported", {{"case_id", id}, {"category", "garbage"}, {"description", "x"}, {"source", "patrol"},
                                               {"location", {{"lat", lat}, {"lng", lng}}}});
}
void refused(const events::Result<engine::Appended>& r, errc code, const std::string& part) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == code);
    CHECK_MESSAGE(r.error().message.find(part) != std::string::npos, r.error().message);
}
std::string grid_of(const EngineFixture& f, const std::string& case_id) {
    return f.engine->read([&](const projections::Model& m) { return m.find_case(case_id)->grid_id; });
}

} // namespace

TEST_CASE("geo: point in polygon — on an edge, on a vertex, in a hole, outside") {
    const events::Polygon p{{rect(0, 0, 10, 10), rect(4, 4, 6, 6)}};
    CHECK(geo::contains(p, 2, 2));
    CHECK(geo::contains(p, 0, 5));   // on the bottom edge
    CHECK(geo::contains(p, 5, 10));  // on the right edge
    CHECK(geo::contains(p, 0, 0));   // on a vertex
    CHECK(geo::contains(p, 10, 10)); // on the opposite vertex
    CHECK_FALSE(geo::contains(p, 5, 5)); // in the hole
    CHECK(geo::contains(p, 4, 5));       // on the hole's edge: still the polygon's boundary
    CHECK_FALSE(geo::contains(p, 5, 10.000001));
    CHECK_FALSE(geo::contains(p, -1, -1));
    // Clockwise rings (GeoJSON before RFC 7946) mean the same.
    auto cw = rect(0, 0, 10, 10);
    std::reverse(cw.begin(), cw.end());
    CHECK(geo::contains(events::Polygon{{cw}}, 5, 5));
    CHECK_FALSE(geo::boundary_problem(events::Polygon{{cw}}));
}

TEST_CASE("geo: a boundary must be a valid polygon inside its parent's") {
    EngineFixture f;
    const double x = 119.1, y = 32.1;
    REQUIRE(f.post(grid("t", "town", nullptr, {rect(x, y, x + 0.1, y + 0.1)})));
    SUBCASE("self-intersecting ring") {
        const events::Ring bowtie = {{x, y}, {x + 0.01, y + 0.01}, {x + 0.01, y}, {x, y + 0.01}, {x, y}};
        refused(f.post(grid("c", "community", "t", {bowtie})), errc::unprocessable, "data.boundary: not a valid polygon: ");
        refused(f.post(grid("c", "community", "t", {bowtie})), errc::unprocessable, "self-intersection");
    }
    SUBCASE("a hole outside the outer ring") {
        refused(f.post(grid("c", "community", "t", {rect(x, y, x + 0.01, y + 0.01), rect(x + 0.02, y, x + 0.03, y + 0.01)})),
                errc::unprocessable, "data.boundary: not a valid polygon");
    }
    SUBCASE("child outside its parent") {
        refused(f.post(grid("c", "community", "t", {rect(x + 0.05, y + 0.05, x + 0.15, y + 0.15)})), errc::unprocessable,
                "data.boundary: not inside the boundary of the parent grid \"t\"");
        // Sharing the parent's edge from inside is fine, and so is a parent without a boundary.
        CHECK(f.post(grid("c", "community", "t", {rect(x, y, x + 0.05, y + 0.05)})));
        CHECK(f.post(grid("t2", "town", nullptr, {})));
        CHECK(f.post(grid("c2", "community", "t2", {rect(0, 0, 1, 1)})));
    }
    SUBCASE("checked against a parent defined in the same batch") {
        refused(f.post_all(json::array({grid("c", "community", "t", {rect(x, y, x + 0.05, y + 0.05)}),
                                        grid("g", "grid", "c", {rect(x + 0.04, y, x + 0.06, y + 0.01)})})),
                errc::unprocessable, "events[1]: data.boundary: not inside the boundary of the parent grid \"c\"");
    }
}

TEST_CASE("geo: the R-tree routes like a brute-force scan over thousands of random points") {
    // 20 × 20 adjacent squares of 0.005° around 119.1E 32.1N; every seventh has a hole.
    const double x0 = 119.1, y0 = 32.1, s = 0.005;
    const int n = 20;
    std::vector<std::pair<std::string, events::Polygon>> grids;
    geo::GridIndex index;
    auto cx = [&](int i) { return x0 + s * i; };
    auto cy = [&](int j) { return y0 + s * j; };
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            events::Polygon p{{rect(cx(i), cy(j), cx(i + 1), cy(j + 1))}};
            if ((i * n + j) % 7 == 0) p.rings.push_back(rect(cx(i) + s / 4, cy(j) + s / 4, cx(i) + s / 2, cy(j) + s / 2));
            const std::string id = "m-" + std::to_string(i) + "-" + std::to_string(j);
            index.insert(id, p);
            grids.emplace_back(id, std::move(p));
        }
    REQUIRE(index.size() == static_cast<std::size_t>(n * n));
    auto brute = [&](double lat, double lng) -> std::optional<std::string> {
        for (const auto& [id, p] : grids)
            if (geo::contains(p, lat, lng)) return id; // the first defined wins on a shared edge
        return std::nullopt;
    };
    std::mt19937_64 rng(20261116);
    std::uniform_real_distribution<double> lng(x0 - 0.01, cx(n) + 0.01), lat(y0 - 0.01, cy(n) + 0.01);
    std::uniform_int_distribution<int> cell(0, n);
    int inside = 0, in_holes = 0, outside = 0;
    for (int k = 0; k < 5000; ++k) {
        double la = lat(rng), ln = lng(rng);
        if (k % 5 == 0) ln = cx(cell(rng)); // on a vertical edge
        if (k % 11 == 0) la = cy(cell(rng)); // on a horizontal edge (and sometimes a vertex)
        const auto want = brute(la, ln);
        const auto got = index.find(la, ln);
        REQUIRE_MESSAGE(got == want, "at " << la << ", " << ln);
        if (want) ++inside;
        else if (la > y0 && la < cy(n) && ln > x0 && ln < cx(n)) ++in_holes;
        else ++outside;
    }
    CHECK(inside > 3000);
    CHECK(in_holes > 10);
    CHECK(outside > 100);
}

TEST_CASE("geo: a point in no micro-grid is refused naming the nearest and its distance") {
    EngineFixture f;
    const double x = 119.1, y = 32.1;
    REQUIRE(f.post_all(json::array({grid("t", "town", nullptr, {rect(x, y, x + 0.1, y + 0.1)}),
                                    grid("m1", "micro", "t", {rect(x, y, x + 0.01, y + 0.01)}),
                                    grid("m2", "micro", "t", {rect(x + 0.05, y + 0.05, x + 0.06, y + 0.06)})})));
    // 0.01° of latitude north of m1's top edge: 1,112 m on a sphere of mean radius.
    refused(f.post(at("far", y + 0.02, x + 0.005)), errc::unprocessable,
            "the nearest micro-grid is \"m1\", 1112 m away; give data.grid_id");
    refused(f.post(at("far", y + 0.045, x + 0.055)), errc::unprocessable, "the nearest micro-grid is \"m2\", 556 m away");
    // Also when the nearest was defined in the same batch, still uncommitted.
    refused(f.post_all(json::array({grid("m3", "micro", "t", {rect(x + 0.02, y + 0.02, x + 0.03, y + 0.03)}), at("far", y + 0.02, x + 0.035)})),
            errc::unprocessable, "the nearest micro-grid is \"m3\"");
}

TEST_CASE("geo: a report by location in the batch that defines its grid, the routed grid is stored and replay keeps it") {
    EngineFixture f;
    const double x = 119.1, y = 32.1;
    auto r = f.post_all(json::array({grid("t", "town", nullptr, {rect(x, y, x + 0.1, y + 0.1)}),
                                     grid("m1", "micro", "t", {rect(x, y, x + 0.01, y + 0.01)}),
                                     at("a", y + 0.005, x + 0.005)}));
    REQUIRE(r);
    const auto stored = json::parse(r->envelopes.back().data);
    CHECK(stored["grid_id"] == "m1");
    CHECK(grid_of(f, "a") == "m1");
    // Committed now: routed through the model's R-tree; on the shared edge the first defined wins.
    REQUIRE(f.post(grid("m2", "micro", "t", {rect(x + 0.01, y, x + 0.02, y + 0.01)})));
    REQUIRE(f.post(at("b", y + 0.005, x + 0.015)));
    REQUIRE(f.post(at("edge", y + 0.005, x + 0.01)));
    CHECK(grid_of(f, "b") == "m2");
    CHECK(grid_of(f, "edge") == "m1");
    // Replay folds the stored grid_id; it does not route again.
    f.engine.reset();
    f.engine = std::make_unique<engine::Engine>(f.path, f.clock);
    CHECK(grid_of(f, "a") == "m1");
    CHECK(grid_of(f, "b") == "m2");
    CHECK(f.engine->read([](const projections::Model& m) { return m.route(32.105, 119.115); }) == std::optional<std::string>("m2"));
}

#include "projections/geo.hpp"

#include <boost/geometry/algorithms/correct.hpp>
#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/geometry/algorithms/distance.hpp>
#include <boost/geometry/algorithms/envelope.hpp>
#include <boost/geometry/algorithms/intersects.hpp>
#include <boost/geometry/algorithms/is_valid.hpp>
#include <boost/geometry/geometries/box.hpp>
#include <boost/geometry/geometries/point.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <boost/geometry/strategies/strategies.hpp>

#include <algorithm>
#include <limits>
#include <vector>

namespace gridloop::projections::geo {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;

namespace {

// Point-in-polygon on the lng/lat plane, as the boundaries are drawn on a map.
using Pt = bg::model::point<double, 2, bg::cs::cartesian>;
using Poly = bg::model::polygon<Pt>; // clockwise, closed
using Box = bg::model::box<Pt>;
// Distances on the sphere.
using SPt = bg::model::point<double, 2, bg::cs::spherical_equatorial<bg::degree>>;
using SPoly = bg::model::polygon<SPt>;

constexpr double earth_radius_m = 6'371'008.8; // mean radius

template <class P> P to_bg(const events::Polygon& poly) {
    P out;
    for (std::size_t r = 0; r < poly.rings.size(); ++r) {
        auto& ring = r == 0 ? out.outer() : out.inners().emplace_back();
        for (const auto& [lng, lat] : poly.rings[r]) ring.emplace_back(lng, lat);
    }
    bg::correct(out); // orientation: GeoJSON senders differ
    return out;
}

double distance_m(const SPoly& poly, const SPt& p) {
    return bg::distance(p, poly, bg::strategy::distance::cross_track<>(earth_radius_m));
}

} // namespace

std::optional<std::string> boundary_problem(const events::Polygon& poly) {
    if (poly.rings.empty()) return "it has no rings";
    // Self-intersection first: is_valid would name a bowtie's (zero-area) orientation instead.
    for (std::size_t r = 0; r < poly.rings.size(); ++r) {
        bg::model::ring<Pt> ring;
        for (const auto& [lng, lat] : poly.rings[r]) ring.emplace_back(lng, lat);
        if (bg::intersects(ring))
            return (r == 0 ? std::string("the outer ring") : "hole " + std::to_string(r)) + " has a self-intersection";
    }
    std::string reason;
    if (bg::is_valid(to_bg<Poly>(poly), reason)) return std::nullopt;
    return reason;
}

bool covered_by(const events::Polygon& inner, const events::Polygon& outer) {
    return bg::covered_by(to_bg<Poly>(inner), to_bg<Poly>(outer));
}

bool contains(const events::Polygon& poly, double lat, double lng) {
    return !poly.rings.empty() && bg::covered_by(Pt(lng, lat), to_bg<Poly>(poly));
}

double distance_m(const events::Polygon& poly, double lat, double lng) {
    if (contains(poly, lat, lng)) return 0;
    return distance_m(to_bg<SPoly>(poly), SPt(lng, lat));
}

struct GridIndex::Impl {
    struct Entry {
        std::string grid_id;
        Poly plane;
        SPoly sphere;
    };
    using Value = std::pair<Box, std::size_t>; // bounding box, index into entries
    std::vector<Entry> entries;
    bgi::rtree<Value, bgi::rstar<16>> tree;
};

GridIndex::GridIndex() : impl_(std::make_unique<Impl>()) {}
GridIndex::~GridIndex() = default;
GridIndex::GridIndex(GridIndex&&) noexcept = default;
GridIndex& GridIndex::operator=(GridIndex&&) noexcept = default;

void GridIndex::insert(const std::string& grid_id, const events::Polygon& boundary) {
    if (boundary.rings.empty()) return;
    Impl::Entry e{grid_id, to_bg<Poly>(boundary), to_bg<SPoly>(boundary)};
    const Box box = bg::return_envelope<Box>(e.plane);
    impl_->entries.push_back(std::move(e));
    impl_->tree.insert({box, impl_->entries.size() - 1});
}

std::size_t GridIndex::size() const { return impl_->entries.size(); }

std::vector<std::string> GridIndex::grid_ids() const {
    std::vector<std::string> out;
    for (const auto& e : impl_->entries) out.push_back(e.grid_id);
    return out;
}

std::optional<std::string> GridIndex::find(double lat, double lng) const {
    const Pt p(lng, lat);
    std::size_t best = std::numeric_limits<std::size_t>::max();
    for (auto it = impl_->tree.qbegin(bgi::covers(p)); it != impl_->tree.qend(); ++it)
        if (it->second < best && bg::covered_by(p, impl_->entries[it->second].plane)) best = it->second;
    if (best == std::numeric_limits<std::size_t>::max()) return std::nullopt;
    return impl_->entries[best].grid_id;
}

std::optional<Nearest> GridIndex::nearest(double lat, double lng) const {
    std::optional<Nearest> out;
    const SPt sp(lng, lat);
    // Boxes are nearest on the lng/lat plane; the few closest are measured on the sphere.
    for (auto it = impl_->tree.qbegin(bgi::nearest(Pt(lng, lat), 8)); it != impl_->tree.qend(); ++it) {
        const auto& e = impl_->entries[it->second];
        const double d = distance_m(e.sphere, sp);
        if (!out || d < out->metres || (d == out->metres && e.grid_id < out->grid_id)) out = Nearest{e.grid_id, d};
    }
    return out;
}

} // namespace gridloop::projections::geo

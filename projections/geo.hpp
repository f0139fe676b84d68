// Geometry of grid boundaries (GeoJSON Polygons, WGS84 lng/lat): validation, point-in-polygon,
// distance in metres, and an R-tree over micro-grid boundaries for routing reports by location.
// Boost.Geometry stays in geo.cpp: this header is light.
#pragma once

#include "events/event.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gridloop::projections::geo {

// Why a boundary is not a valid polygon (self-intersection, a hole outside the outer ring, a spike…),
// or nullopt when it is valid. Either ring orientation is accepted.
std::optional<std::string> boundary_problem(const events::Polygon& poly);
// Whether `inner` lies inside `outer` (touching its edge from inside counts).
bool covered_by(const events::Polygon& inner, const events::Polygon& outer);
// Whether the point lies inside the polygon or on its boundary, and not strictly inside a hole.
bool contains(const events::Polygon& poly, double lat, double lng);
// Great-circle distance in metres from the point to the polygon (0 when it contains it).
double distance_m(const events::Polygon& poly, double lat, double lng);

struct Nearest {
    std::string grid_id;
    double metres = 0;
};

// Micro-grid boundaries in an R-tree of their bounding boxes; exact point-in-polygon on the few
// candidates. Grids are only ever added (a grid is defined once).
class GridIndex {
public:
    GridIndex();
    ~GridIndex();
    GridIndex(GridIndex&&) noexcept;
    GridIndex& operator=(GridIndex&&) noexcept;

    void insert(const std::string& grid_id, const events::Polygon& boundary);
    std::size_t size() const;
    // The grids in the order they were inserted (which decides between boundaries sharing an edge).
    std::vector<std::string> grid_ids() const;
    // A grid whose boundary contains the point (the first defined when boundaries share an edge).
    std::optional<std::string> find(double lat, double lng) const;
    // The grid nearest the point, by great-circle distance among the closest boxes.
    std::optional<Nearest> nearest(double lat, double lng) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace gridloop::projections::geo

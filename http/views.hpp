// JSON views of the read model for the API: cases, grids, statistics, star ratings, queues.
#pragma once

#include "projections/metrics.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace gridloop::http {

// A case as `GET /v1/cases/{id}` shows it; the list omits the timeline.
nlohmann::json case_json(const projections::Model& m, const projections::Case& c, events::Instant now, bool with_timeline);

// One grid with its parent, path from the root and children.
nlohmann::json grid_json(const projections::Model& m, const projections::Grid& g);
// The whole tree, nested.
nlohmann::json grid_tree(const projections::Model& m);

// Star ratings of the micro-grids in a subtree for the cases reported in [from, to).
nlohmann::json stars_json(const projections::Model& m, const projections::Grid& root, const projections::Period& period,
                          events::Instant now);

// The OpenAPI 3.1 document of this API.
const std::string& openapi_document();
// The dashboard page served at `/`.
const std::string& dashboard_page();

} // namespace gridloop::http

// Who may do what: the roles and scopes of the contract's Auth section, decided in one place.
#pragma once

#include "events/event.hpp"
#include "http/auth.hpp"
#include "projections/entities.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace gridloop::engine {
class View;
}
namespace gridloop::projections {
class Model;
}

namespace gridloop::http {

// Roles whose scope is a set of grid subtrees.
bool grid_scoped(Role r);
// Whether the principal reads everything (admin, auditor; a dashboard without a scope).
bool sees_everything(const Principal& who);

// The rule a posted event breaks, if any (→ 403), checked against the state the event is decided
// on, so a batch that reports a case and then handles it is judged event by event.
std::optional<std::string> forbidden_post(const Principal& who, const engine::View& state, const events::Event& e);

// Reads. A target outside the scope and a target that does not exist look alike to a scoped
// principal: both are "not within your scope" (403), so probing reveals nothing.
bool sees_grid(const Principal& who, const projections::Model& m, std::string_view grid);
bool sees_case(const Principal& who, const projections::Model& m, const projections::Case& c);
bool sees_member(const Principal& who, const projections::Model& m, const projections::Member& member);
bool sees_department(const Principal& who, std::string_view dept);
// Whether projections about people and grids (stats, members, leaderboards) are open to the role.
bool reads_grid_views(const Principal& who);

} // namespace gridloop::http

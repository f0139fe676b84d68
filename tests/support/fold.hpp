// The read model folded one event at a time, its statistics kept up to date by every apply (as the
// running engine keeps them), for comparing with engine::fold, which builds them in one pass.
#pragma once

#include "engine/replay.hpp"
#include "projections/model.hpp"

namespace gridloop::testing {

inline projections::Model fold_event_by_event(const engine::StoreReader& store, std::int64_t to) {
    projections::Model m;
    engine::scan_decoded(store, 0, to, [&](const events::Envelope& env) {
        m.apply(env);
        return true;
    });
    return m;
}

} // namespace gridloop::testing

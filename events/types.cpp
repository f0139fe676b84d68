// Id pattern and rung levels.
#include "events/types.hpp"

namespace gridloop::events {

bool valid_id(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(s[0])) return false;
    for (char c : s.substr(1))
        if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
    return true;
}

std::optional<Level> rung_level(Rung r) {
    switch (r) {
    case Rung::grid: return Level::grid;
    case Rung::community: return Level::community;
    case Rung::town: return Level::town;
    default: return std::nullopt;
    }
}

} // namespace gridloop::events

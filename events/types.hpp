// The enumerations of the contract, each with its wire names, and the id pattern.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gridloop::events {

enum class Level : std::uint8_t { town, community, grid, micro };
enum class Rung : std::uint8_t { worker, micro_head, grid, community, town, department };
enum class PersonRole : std::uint8_t { worker, micro_head, grid_head, town_head, department_staff };
enum class Team : std::uint8_t { management, work, volunteer, joint };
enum class DeptKind : std::uint8_t { police, city_management, market_supervision, municipal, judicial, other };
enum class MemberCategory : std::uint8_t { in_service, retired, mobile, unemployed, enterprise, farmer };
enum class Source : std::uint8_t { patrol, resident, hotline, camera };
enum class Severity : std::uint8_t { normal, urgent, major };
enum class Rating : std::uint8_t { satisfied, basically_satisfied, unsatisfied };
enum class Solved : std::uint8_t { yes, no, unknown };
enum class DismissReason : std::uint8_t { duplicate, not_responsible, invalid, out_of_scope };
enum class CaseState : std::uint8_t { open, handled, fed_back, closed, dismissed };

// Wire names, in enumerator order.
template <class E> struct enum_names;
template <> struct enum_names<Level> { static constexpr std::array<std::string_view, 4> v{"town", "community", "grid", "micro"}; };
template <> struct enum_names<Rung> {
    static constexpr std::array<std::string_view, 6> v{"worker", "micro_head", "grid", "community", "town", "department"};
};
template <> struct enum_names<PersonRole> {
    static constexpr std::array<std::string_view, 5> v{"worker", "micro_head", "grid_head", "town_head", "department_staff"};
};
template <> struct enum_names<Team> { static constexpr std::array<std::string_view, 4> v{"management", "work", "volunteer", "joint"}; };
template <> struct enum_names<DeptKind> {
    static constexpr std::array<std::string_view, 6> v{"police", "city_management", "market_supervision", "municipal", "judicial", "other"};
};
template <> struct enum_names<MemberCategory> {
    static constexpr std::array<std::string_view, 6> v{"in_service", "retired", "mobile", "unemployed", "enterprise", "farmer"};
};
template <> struct enum_names<Source> { static constexpr std::array<std::string_view, 4> v{"patrol", "resident", "hotline", "camera"}; };
template <> struct enum_names<Severity> { static constexpr std::array<std::string_view, 3> v{"normal", "urgent", "major"}; };
template <> struct enum_names<Rating> {
    static constexpr std::array<std::string_view, 3> v{"satisfied", "basically_satisfied", "unsatisfied"};
};
template <> struct enum_names<Solved> { static constexpr std::array<std::string_view, 3> v{"yes", "no", "unknown"}; };
template <> struct enum_names<DismissReason> {
    static constexpr std::array<std::string_view, 4> v{"duplicate", "not_responsible", "invalid", "out_of_scope"};
};
template <> struct enum_names<CaseState> {
    static constexpr std::array<std::string_view, 5> v{"open", "handled", "fed_back", "closed", "dismissed"};
};

template <class E> constexpr std::string_view to_string(E e) { return enum_names<E>::v[static_cast<std::size_t>(e)]; }

template <class E> constexpr std::optional<E> parse_enum(std::string_view s) {
    const auto& names = enum_names<E>::v;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == s) return static_cast<E>(i);
    return std::nullopt;
}

// "`a`, `b`, `c`": the accepted names, for error messages.
template <class E> std::string enum_choices() {
    std::string out;
    for (auto n : enum_names<E>::v) {
        if (!out.empty()) out += ", ";
        out += '"';
        out += n;
        out += '"';
    }
    return out;
}

// ^[a-z0-9][a-z0-9._-]{0,63}$
bool valid_id(std::string_view s);

// The grid level a rung stands for, if any (grid, community, town).
std::optional<Level> rung_level(Rung r);

} // namespace gridloop::events

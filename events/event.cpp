// Strict JSON decoding and canonical encoding of every event type.
#include "events/event.hpp"

#include "events/decoder.hpp"
#include "events/json_writer.hpp"

#include <nlohmann/json.hpp>

namespace gridloop::events {
namespace {

using nlohmann::json;

// nlohmann's DOM as the decoder's JSON value (see events/decoder.hpp).
class NlohmannValue {
public:
    explicit NlohmannValue(const json& j) : j_(&j) {}

    decoder::Kind kind() const {
        using decoder::Kind;
        switch (j_->type()) {
        case json::value_t::boolean: return Kind::boolean;
        case json::value_t::string: return Kind::string;
        case json::value_t::array: return Kind::array;
        case json::value_t::object: return Kind::object;
        case json::value_t::number_integer: return Kind::integer;
        case json::value_t::number_unsigned:
            return j_->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX) ? Kind::big_unsigned : Kind::integer;
        case json::value_t::number_float: return Kind::floating;
        default: return Kind::null; // null; binary and discarded never come out of a parse
        }
    }
    std::string_view str() const { return j_->get_ref<const std::string&>(); }
    std::int64_t int64() const { return j_->get<std::int64_t>(); }
    double number() const { return j_->get<double>(); }
    bool boolean() const { return j_->get<bool>(); }
    std::size_t size() const { return j_->size(); }
    std::optional<NlohmannValue> find(std::string_view key) const {
        const auto it = j_->find(key);
        if (it == j_->end()) return std::nullopt;
        return NlohmannValue(*it);
    }
    template <class F> void each(F&& f) const {
        std::size_t i = 0;
        for (const auto& v : *j_)
            if (!f(i++, NlohmannValue(v))) break;
    }
    template <class F> void each_member(F&& f) const {
        for (auto it = j_->begin(); it != j_->end(); ++it)
            if (!f(std::string_view(it.key()), NlohmannValue(it.value()))) break;
    }

private:
    const json* j_;
};

// ---- per-type encoding, straight to canonical text ----

template <class T> constexpr bool is_optional = false;
template <class T> constexpr bool is_optional<std::optional<T>> = true;
template <class T> constexpr bool is_map = false;
template <class K, class V> constexpr bool is_map<std::map<K, V>> = true;

// One value as the contract writes it: enums by their wire names, durations in ISO 8601, an absent
// optional as null, maps (keyed by enums) as objects, other ranges as arrays.
template <class T> void value(JsonWriter& w, const T& v) {
    if constexpr (std::is_same_v<T, bool>) w.boolean(v);
    else if constexpr (std::is_enum_v<T>) w.string(to_string(v));
    else if constexpr (std::is_integral_v<T>) w.integer(v);
    else if constexpr (std::is_floating_point_v<T>) w.number(v);
    else if constexpr (std::is_convertible_v<const T&, std::string_view>) w.string(v);
    else if constexpr (std::is_same_v<T, Duration>) w.string(format_duration(v));
    else if constexpr (is_optional<T>) {
        if (v) value(w, *v);
        else w.null();
    } else if constexpr (std::is_same_v<T, Location>) {
        w.begin_object();
        w.key("lat").number(v.lat);
        w.key("lng").number(v.lng);
        w.end_object();
    } else if constexpr (std::is_same_v<T, Polygon>) {
        w.begin_object();
        w.key("type").string("Polygon");
        w.key("coordinates");
        value(w, v.rings);
        w.end_object();
    } else if constexpr (is_map<T>) {
        w.begin_object();
        for (const auto& [k, x] : v) {
            w.key(to_string(k));
            value(w, x);
        }
        w.end_object();
    } else {
        w.begin_array();
        for (const auto& x : v) value(w, x);
        w.end_array();
    }
}

// A member; an absent optional leaves the member out.
template <class T> void field(JsonWriter& w, std::string_view key, const T& v) {
    if constexpr (is_optional<T>) {
        if (v) field(w, key, *v);
    } else {
        w.key(key);
        value(w, v);
    }
}

void encode(JsonWriter& w, const GridDefined& e) {
    field(w, "grid_id", e.grid_id);
    field(w, "name", e.name);
    field(w, "level", e.level);
    w.key("parent_id");
    value(w, e.parent_id); // null for a town
    field(w, "boundary", e.boundary);
    field(w, "station", e.station);
}
void encode(JsonWriter& w, const DepartmentRegistered& e) {
    field(w, "dept_id", e.dept_id);
    field(w, "name", e.name);
    field(w, "kind", e.kind);
    field(w, "serves", e.serves);
}
void encode(JsonWriter& w, const PersonAssigned& e) {
    field(w, "person_id", e.person_id);
    field(w, "name", e.name);
    field(w, "role", e.role);
    field(w, "grid_id", e.grid_id);
    field(w, "dept_id", e.dept_id);
    field(w, "team", e.team);
}
void encode(JsonWriter& w, const PolicySet& e) {
    field(w, "limits", e.limits);
    if (!e.start_rung.empty()) field(w, "start_rung", e.start_rung);
    field(w, "satisfied_threshold", e.satisfied_threshold);
    field(w, "max_returns", e.max_returns);
    field(w, "lost_contact_after", e.lost_contact_after);
    field(w, "stars", e.stars);
}
void encode(JsonWriter& w, const CalendarSet& e) {
    field(w, "timezone", e.timezone);
    field(w, "workdays", e.workdays);
    field(w, "work_hours", e.work_hours);
    field(w, "holidays", e.holidays);
    field(w, "makeup_workdays", e.makeup_workdays);
}
void encode(JsonWriter& w, const MemberRegistered& e) {
    field(w, "member_id", e.member_id);
    field(w, "name", e.name);
    field(w, "category", e.category);
    field(w, "home_branch", e.home_branch);
    field(w, "residence_grid", e.residence_grid);
}
void encode(JsonWriter& w, const MemberRelocated& e) {
    field(w, "member_id", e.member_id);
    field(w, "to_grid", e.to_grid);
    field(w, "reason", e.reason);
}
void encode(JsonWriter& w, const MemberReportedIn& e) {
    field(w, "member_id", e.member_id);
    field(w, "grid_id", e.grid_id);
}
void encode(JsonWriter& w, const MemberContacted& e) {
    field(w, "member_id", e.member_id);
    field(w, "by", e.by);
    field(w, "channel", e.channel);
}
void encode(JsonWriter& w, const MembershipTransferred& e) {
    field(w, "member_id", e.member_id);
    field(w, "to_branch", e.to_branch);
}
void encode(JsonWriter& w, const PointsAwarded& e) {
    field(w, "member_id", e.member_id);
    field(w, "points", e.points);
    field(w, "reason", e.reason);
    field(w, "case_id", e.case_id);
}
void encode(JsonWriter& w, const PointsRedeemed& e) {
    field(w, "member_id", e.member_id);
    field(w, "points", e.points);
    field(w, "item", e.item);
}
void encode(JsonWriter& w, const IssueReported& e) {
    field(w, "case_id", e.case_id);
    field(w, "category", e.category);
    field(w, "description", e.description);
    field(w, "source", e.source);
    field(w, "grid_id", e.grid_id);
    field(w, "location", e.location);
    field(w, "severity", e.severity);
    field(w, "reporter", e.reporter);
    field(w, "media", e.media);
}
void encode(JsonWriter& w, const IssueDiscussed& e) {
    field(w, "case_id", e.case_id);
    field(w, "participants", e.participants);
    field(w, "decision", e.decision);
    field(w, "teams", e.teams);
}
void encode(JsonWriter& w, const IssueEscalated& e) {
    field(w, "case_id", e.case_id);
    field(w, "to_rung", e.to_rung);
    field(w, "reason", e.reason);
    field(w, "auto", e.automatic);
    field(w, "dept_id", e.dept_id);
}
void encode(JsonWriter& w, const IssueReturned& e) {
    field(w, "case_id", e.case_id);
    field(w, "dept_id", e.dept_id);
    field(w, "reason", e.reason);
}
void encode(JsonWriter& w, const IssueSupervised& e) {
    field(w, "case_id", e.case_id);
    field(w, "by", e.by);
    field(w, "note", e.note);
}
void encode(JsonWriter& w, const IssueHandled& e) {
    field(w, "case_id", e.case_id);
    field(w, "handler", e.handler);
    field(w, "result", e.result);
    field(w, "volunteers", e.volunteers);
}
void encode(JsonWriter& w, const FeedbackGiven& e) {
    field(w, "case_id", e.case_id);
    field(w, "to", e.to);
    field(w, "content", e.content);
}
void encode(JsonWriter& w, const SatisfactionRated& e) {
    field(w, "case_id", e.case_id);
    field(w, "rating", e.rating);
    field(w, "solved", e.solved);
    field(w, "rater", e.rater);
    field(w, "comment", e.comment);
}
void encode(JsonWriter& w, const IssueDismissed& e) {
    field(w, "case_id", e.case_id);
    field(w, "reason", e.reason);
    field(w, "note", e.note);
}

template <std::size_t... I> constexpr auto type_names(std::index_sequence<I...>) {
    return std::array<std::string_view, sizeof...(I)>{std::variant_alternative_t<I, Event>::type...};
}
constexpr auto all_types = type_names(std::make_index_sequence<std::variant_size_v<Event>>{});

} // namespace

std::span<const std::string_view> event_types() { return all_types; }

std::string_view type_name(const Event& e) { return all_types[e.index()]; }

const std::string* case_id_of(const Event& e) {
    return std::visit(
        [](const auto& ev) -> const std::string* {
            if constexpr (requires { ev.case_id; } && !std::is_same_v<std::decay_t<decltype(ev)>, PointsAwarded>)
                return &ev.case_id;
            else
                return nullptr;
        },
        e);
}

const std::string* member_id_of(const Event& e) {
    return std::visit(
        [](const auto& ev) -> const std::string* {
            if constexpr (requires { ev.member_id; }) return &ev.member_id;
            else return nullptr;
        },
        e);
}

std::string stream_of(const Event& e) {
    if (auto c = case_id_of(e)) return "case-" + *c;
    if (auto m = member_id_of(e)) return "member-" + *m;
    if (auto g = std::get_if<GridDefined>(&e)) return "grid-" + g->grid_id;
    if (auto d = std::get_if<DepartmentRegistered>(&e)) return "dept-" + d->dept_id;
    if (auto p = std::get_if<PersonAssigned>(&e)) return "person-" + p->person_id;
    return "policy";
}

Result<Event> decode_event(std::string_view type, const json& data) { return decoder::decode(type, NlohmannValue(data)); }

std::string encode_data(const Event& e) {
    std::string out;
    out.reserve(192);
    JsonWriter w(out);
    w.begin_object();
    std::visit([&w](const auto& ev) { encode(w, ev); }, e);
    w.end_object();
    return out;
}

Result<Posted> decode_posted(const json& body) { return decoder::decode_posted(NlohmannValue(body)); }

} // namespace gridloop::events

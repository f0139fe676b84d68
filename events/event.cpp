// Strict JSON decoding and canonical encoding of every event type.
#include "events/event.hpp"

#include "events/decoder.hpp"

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

// ---- per-type encoding ----

template <class T> void put(json& j, const char* key, const std::optional<T>& v) {
    if (v) j[key] = *v;
}
template <class E> json names(const std::vector<E>& v) {
    json a = json::array();
    for (auto e : v) a.push_back(to_string(e));
    return a;
}

json encode(const GridDefined& e) {
    json j{{"grid_id", e.grid_id}, {"name", e.name}, {"level", to_string(e.level)}, {"parent_id", nullptr}};
    if (e.parent_id) j["parent_id"] = *e.parent_id;
    if (e.boundary) {
        json rings = json::array();
        for (const auto& ring : e.boundary->rings) {
            json r = json::array();
            for (const auto& p : ring) r.push_back({p[0], p[1]});
            rings.push_back(std::move(r));
        }
        j["boundary"] = {{"type", "Polygon"}, {"coordinates", std::move(rings)}};
    }
    put(j, "station", e.station);
    return j;
}
json encode(const DepartmentRegistered& e) {
    return {{"dept_id", e.dept_id}, {"name", e.name}, {"kind", to_string(e.kind)}, {"serves", e.serves}};
}
json encode(const PersonAssigned& e) {
    json j{{"person_id", e.person_id}, {"name", e.name}, {"role", to_string(e.role)}};
    put(j, "grid_id", e.grid_id);
    put(j, "dept_id", e.dept_id);
    if (e.team) j["team"] = to_string(*e.team);
    return j;
}
json encode(const PolicySet& e) {
    json limits = json::object();
    for (const auto& [rung, d] : e.limits) limits[std::string(to_string(rung))] = format_duration(d);
    json j{{"limits", std::move(limits)}};
    if (!e.start_rung.empty()) {
        json sr = json::object();
        for (const auto& [sev, rung] : e.start_rung) sr[std::string(to_string(sev))] = to_string(rung);
        j["start_rung"] = std::move(sr);
    }
    put(j, "satisfied_threshold", e.satisfied_threshold);
    put(j, "max_returns", e.max_returns);
    if (e.lost_contact_after) j["lost_contact_after"] = format_duration(*e.lost_contact_after);
    put(j, "stars", e.stars);
    return j;
}
json encode(const CalendarSet& e) {
    return {{"timezone", e.timezone},
            {"workdays", e.workdays},
            {"work_hours", e.work_hours},
            {"holidays", e.holidays},
            {"makeup_workdays", e.makeup_workdays}};
}
json encode(const MemberRegistered& e) {
    return {{"member_id", e.member_id}, {"name", e.name}, {"category", to_string(e.category)},
            {"home_branch", e.home_branch}, {"residence_grid", e.residence_grid}};
}
json encode(const MemberRelocated& e) {
    json j{{"member_id", e.member_id}, {"to_grid", e.to_grid}};
    put(j, "reason", e.reason);
    return j;
}
json encode(const MemberReportedIn& e) { return {{"member_id", e.member_id}, {"grid_id", e.grid_id}}; }
json encode(const MemberContacted& e) { return {{"member_id", e.member_id}, {"by", e.by}, {"channel", e.channel}}; }
json encode(const MembershipTransferred& e) { return {{"member_id", e.member_id}, {"to_branch", e.to_branch}}; }
json encode(const PointsAwarded& e) {
    json j{{"member_id", e.member_id}, {"points", e.points}, {"reason", e.reason}};
    put(j, "case_id", e.case_id);
    return j;
}
json encode(const PointsRedeemed& e) { return {{"member_id", e.member_id}, {"points", e.points}, {"item", e.item}}; }
json encode(const IssueReported& e) {
    json j{{"case_id", e.case_id}, {"category", e.category}, {"description", e.description}, {"source", to_string(e.source)}};
    put(j, "grid_id", e.grid_id);
    if (e.location) j["location"] = {{"lat", e.location->lat}, {"lng", e.location->lng}};
    if (e.severity) j["severity"] = to_string(*e.severity);
    put(j, "reporter", e.reporter);
    put(j, "media", e.media);
    return j;
}
json encode(const IssueDiscussed& e) {
    json j{{"case_id", e.case_id}, {"participants", e.participants}, {"decision", e.decision}};
    if (e.teams) j["teams"] = names(*e.teams);
    return j;
}
json encode(const IssueEscalated& e) {
    json j{{"case_id", e.case_id}, {"to_rung", to_string(e.to_rung)}, {"reason", e.reason}, {"auto", e.automatic}};
    put(j, "dept_id", e.dept_id);
    return j;
}
json encode(const IssueReturned& e) { return {{"case_id", e.case_id}, {"dept_id", e.dept_id}, {"reason", e.reason}}; }
json encode(const IssueSupervised& e) { return {{"case_id", e.case_id}, {"by", e.by}, {"note", e.note}}; }
json encode(const IssueHandled& e) {
    json j{{"case_id", e.case_id}, {"handler", e.handler}, {"result", e.result}};
    put(j, "volunteers", e.volunteers);
    return j;
}
json encode(const FeedbackGiven& e) { return {{"case_id", e.case_id}, {"to", e.to}, {"content", e.content}}; }
json encode(const SatisfactionRated& e) {
    json j{{"case_id", e.case_id}, {"rating", to_string(e.rating)}, {"solved", to_string(e.solved)}, {"rater", e.rater}};
    put(j, "comment", e.comment);
    return j;
}
json encode(const IssueDismissed& e) {
    json j{{"case_id", e.case_id}, {"reason", to_string(e.reason)}};
    put(j, "note", e.note);
    return j;
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

json encode_data(const Event& e) {
    return std::visit([](const auto& ev) { return encode(ev); }, e);
}

Result<Posted> decode_posted(const json& body) { return decoder::decode_posted(NlohmannValue(body)); }

} // namespace gridloop::events

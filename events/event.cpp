// Strict JSON decoding and canonical encoding of every event type.
#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

namespace gridloop::events {
namespace {

using nlohmann::json;

constexpr std::size_t max_name = 200;
constexpr std::size_t max_text = 4000;

const char* json_type(const json& v) {
    switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a fractional number";
    default: return "a number";
    }
}

bool valid_date(std::string_view s) {
    // YYYY-MM-DD, a real calendar date.
    return parse_time(std::string(s) + "T00:00:00Z").has_value() && s.size() == 10;
}

bool valid_clock(std::string_view s) {
    if (s.size() != 5 || s[2] != ':') return false;
    for (int i : {0, 1, 3, 4})
        if (s[i] < '0' || s[i] > '9') return false;
    const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return (h < 24 && m < 60) || (h == 24 && m == 0);
}

// Reads the fields of one JSON object, remembering the first error and every key it consumed, so
// that keys nobody asked for can be refused by name.
class Reader {
public:
    Reader(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

    bool ok() const { return !err_; }
    Error take_error() { return std::move(*err_); }

    // A field value; nullptr when absent (or null) and not required. Fails on absence when required.
    const json* field(const char* key, bool required) {
        if (err_) return nullptr;
        seen_.insert(key);
        auto it = obj_.find(key);
        if (it == obj_.end() || it->is_null()) {
            if (required) fail(errc::bad_request, path(key) + " is required");
            return nullptr;
        }
        return &*it;
    }

    void fail(errc code, std::string msg) {
        if (!err_) err_ = Error{code, std::move(msg)};
    }
    std::string path(std::string_view key) const { return prefix_ + "." + std::string(key); }

    bool type_is(const json& v, json::value_t t, std::string_view key, const char* want) {
        const bool match = v.type() == t || (t == json::value_t::number_integer && v.is_number_unsigned());
        if (!match) fail(errc::bad_request, path(key) + " must be " + want + ", not " + json_type(v));
        return match && !err_;
    }

    bool text(const char* key, std::string& out, bool required = true, std::size_t max = max_text) {
        const json* v = field(key, required);
        if (!v || !type_is(*v, json::value_t::string, key, "a string")) return false;
        const auto& s = v->get_ref<const std::string&>();
        if (s.empty()) fail(errc::unprocessable, path(key) + " must not be empty");
        else if (s.size() > max) fail(errc::unprocessable, path(key) + " is longer than " + std::to_string(max) + " bytes");
        else out = s;
        return ok();
    }
    void text(const char* key, std::optional<std::string>& out, std::size_t max = max_text) {
        std::string s;
        if (text(key, s, false, max)) out = std::move(s);
    }
    bool id(const char* key, std::string& out, bool required = true) {
        const json* v = field(key, required);
        if (!v || !type_is(*v, json::value_t::string, key, "a string")) return false;
        const auto& s = v->get_ref<const std::string&>();
        if (!valid_id(s)) {
            fail(errc::unprocessable, path(key) + ": \"" + s.substr(0, 80) + "\" is not a valid id (^[a-z0-9][a-z0-9._-]{0,63}$)");
            return false;
        }
        out = s;
        return true;
    }
    void id(const char* key, std::optional<std::string>& out) {
        std::string s;
        if (id(key, s, false)) out = std::move(s);
    }
    template <class E> bool enumeration(const char* key, E& out, bool required = true) {
        const json* v = field(key, required);
        if (!v || !type_is(*v, json::value_t::string, key, "a string")) return false;
        return parse_name(v->get_ref<const std::string&>(), path(key), out);
    }
    template <class E> void enumeration(const char* key, std::optional<E>& out) {
        E e{};
        if (enumeration(key, e, false)) out = e;
    }
    template <class E> bool parse_name(const std::string& s, const std::string& where, E& out) {
        auto e = parse_enum<E>(s);
        if (!e) {
            fail(errc::unprocessable, where + ": \"" + s.substr(0, 80) + "\" is not one of " + enum_choices<E>());
            return false;
        }
        out = *e;
        return true;
    }
    bool integer(const char* key, std::int64_t& out, bool required = true) {
        const json* v = field(key, required);
        if (!v || !type_is(*v, json::value_t::number_integer, key, "an integer")) return false;
        if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
            fail(errc::unprocessable, path(key) + " is too large");
            return false;
        }
        out = v->get<std::int64_t>();
        return true;
    }
    bool number(const json& v, std::string_view key, double& out) {
        if (!v.is_number()) {
            fail(errc::bad_request, path(key) + " must be a number, not " + json_type(v));
            return false;
        }
        out = v.get<double>();
        if (!std::isfinite(out)) {
            fail(errc::unprocessable, path(key) + " must be finite");
            return false;
        }
        return true;
    }
    void boolean(const char* key, bool& out) {
        const json* v = field(key, false);
        if (v && type_is(*v, json::value_t::boolean, key, "a boolean")) out = v->get<bool>();
    }
    const json* array(const char* key, bool required, bool nonempty = false) {
        const json* v = field(key, required);
        if (!v || !type_is(*v, json::value_t::array, key, "an array")) return nullptr;
        if (nonempty && v->empty()) {
            fail(errc::unprocessable, path(key) + " must not be empty");
            return nullptr;
        }
        if (v->size() > 10000) {
            fail(errc::unprocessable, path(key) + " has more than 10000 items");
            return nullptr;
        }
        return v;
    }
    const json* object(const char* key, bool required) {
        const json* v = field(key, required);
        if (!v || !type_is(*v, json::value_t::object, key, "an object")) return nullptr;
        return v;
    }
    // Array of ids, each checked, no duplicates.
    bool ids(const char* key, std::vector<std::string>& out, bool required = true, bool nonempty = false) {
        const json* a = array(key, required, nonempty);
        if (!a) return false;
        std::set<std::string> unique;
        for (std::size_t i = 0; i < a->size() && ok(); ++i) {
            const auto& v = (*a)[i];
            const std::string where = path(key) + "[" + std::to_string(i) + "]";
            if (!v.is_string()) fail(errc::bad_request, where + " must be a string, not " + json_type(v));
            else if (!valid_id(v.get_ref<const std::string&>())) fail(errc::unprocessable, where + " is not a valid id");
            else if (!unique.insert(v.get<std::string>()).second) fail(errc::unprocessable, where + " repeats \"" + v.get<std::string>() + "\"");
            else out.push_back(v.get<std::string>());
        }
        return ok();
    }
    void ids(const char* key, std::optional<std::vector<std::string>>& out) {
        std::vector<std::string> v;
        if (ids(key, v, false)) out = std::move(v);
    }
    bool duration(const json& v, const std::string& where, Duration& out) {
        if (v.is_number_integer() || v.is_number_unsigned()) {
            if (v.is_number_unsigned() ? v.get<std::uint64_t>() > 100'000'000'000ULL : v.get<std::int64_t>() < 0 ||
                                                                                          v.get<std::int64_t>() > 100'000'000'000LL) {
                fail(errc::unprocessable, where + " is out of range");
                return false;
            }
            out = Duration{0, v.get<std::int64_t>()};
            return true;
        }
        if (!v.is_string()) {
            fail(errc::bad_request, where + " must be an ISO 8601 duration string or whole seconds, not " + json_type(v));
            return false;
        }
        auto d = parse_duration(v.get_ref<const std::string&>());
        if (!d) {
            fail(errc::unprocessable, where + ": \"" + v.get<std::string>().substr(0, 40) +
                                          "\" is not an ISO 8601 duration of weeks, days, hours, minutes and seconds");
            return false;
        }
        out = *d;
        return true;
    }

    // Refuses keys that were never read.
    void finish() {
        if (err_) return;
        std::string unknown;
        for (const auto& [k, v] : obj_.items())
            if (!seen_.count(k)) unknown += (unknown.empty() ? "" : ", ") + path(k);
        if (!unknown.empty()) fail(errc::unprocessable, "unknown field(s): " + unknown);
    }

private:
    const json& obj_;
    std::string prefix_;
    std::set<std::string, std::less<>> seen_;
    std::optional<Error> err_;
};

// ---- per-type decoding ----

void read(Reader& r, const json&, GridDefined& e) {
    r.id("grid_id", e.grid_id);
    r.text("name", e.name, true, max_name);
    r.enumeration("level", e.level);
    r.id("parent_id", e.parent_id);
    if (r.ok() && e.level == Level::town && e.parent_id) r.fail(errc::unprocessable, "data.parent_id must be null for a town");
    if (r.ok() && e.level != Level::town && !e.parent_id)
        r.fail(errc::unprocessable, "data.parent_id is required for a grid of level \"" + std::string(to_string(e.level)) + "\"");
    if (const json* b = r.object("boundary", false)) {
        const auto type = b->find("type");
        const auto coords = b->find("coordinates");
        if (type == b->end() || *type != "Polygon" || coords == b->end() || !coords->is_array() || coords->empty()) {
            r.fail(errc::unprocessable, "data.boundary must be a GeoJSON Polygon {\"type\": \"Polygon\", \"coordinates\": [[[lng, lat], ...]]}");
        } else {
            Polygon p;
            for (std::size_t i = 0; i < coords->size() && r.ok(); ++i) {
                const auto& ring = (*coords)[i];
                const std::string where = "data.boundary.coordinates[" + std::to_string(i) + "]";
                if (!ring.is_array() || ring.size() < 4) {
                    r.fail(errc::unprocessable, where + " must be a ring of at least 4 positions");
                    break;
                }
                Ring out;
                for (std::size_t j = 0; j < ring.size() && r.ok(); ++j) {
                    const auto& pos = ring[j];
                    const std::string pw = where + "[" + std::to_string(j) + "]";
                    if (!pos.is_array() || pos.size() != 2 || !pos[0].is_number() || !pos[1].is_number()) {
                        r.fail(errc::unprocessable, pw + " must be a position [lng, lat]");
                        break;
                    }
                    const double lng = pos[0].get<double>(), lat = pos[1].get<double>();
                    if (!(lng >= -180 && lng <= 180 && lat >= -90 && lat <= 90))
                        r.fail(errc::unprocessable, pw + " is outside [-180, 180] x [-90, 90]");
                    out.push_back({lng, lat});
                }
                if (r.ok() && out.front() != out.back()) r.fail(errc::unprocessable, where + " is not closed (first position != last)");
                p.rings.push_back(std::move(out));
            }
            if (r.ok()) e.boundary = std::move(p);
        }
    }
    r.text("station", e.station, max_name);
}

void read(Reader& r, const json&, DepartmentRegistered& e) {
    r.id("dept_id", e.dept_id);
    r.text("name", e.name, true, max_name);
    r.enumeration("kind", e.kind);
    r.ids("serves", e.serves, true, true);
}

void read(Reader& r, const json&, PersonAssigned& e) {
    r.id("person_id", e.person_id);
    r.text("name", e.name, true, max_name);
    r.enumeration("role", e.role);
    r.id("grid_id", e.grid_id);
    r.id("dept_id", e.dept_id);
    r.enumeration("team", e.team);
    if (!r.ok()) return;
    if (e.grid_id.has_value() == e.dept_id.has_value())
        r.fail(e.grid_id ? errc::unprocessable : errc::bad_request, "exactly one of data.grid_id and data.dept_id is required");
    else if ((e.role == PersonRole::department_staff) != e.dept_id.has_value())
        r.fail(errc::unprocessable, e.dept_id ? "data.dept_id is only for role \"department_staff\""
                                              : "data.dept_id is required for role \"department_staff\"");
}

void read(Reader& r, const json&, PolicySet& e) {
    if (const json* limits = r.object("limits", true)) {
        for (const auto& [k, v] : limits->items()) {
            Rung rung{};
            if (!r.parse_name(k, "data.limits", rung)) break;
            Duration d;
            if (!r.duration(v, "data.limits." + k, d)) break;
            if (d.days == 0 && d.seconds == 0) {
                r.fail(errc::unprocessable, "data.limits." + k + " must be longer than zero");
                break;
            }
            // A due time is found by walking the calendar week by week: an unbounded limit
            // (P9999999999W) kept the writer busy for hours, and no ladder needs a year per rung.
            if (d.calendar() > std::chrono::days(366)) {
                r.fail(errc::unprocessable, "data.limits." + k + " must be at most P366D");
                break;
            }
            e.limits[rung] = d;
        }
    }
    if (const json* sr = r.object("start_rung", false)) {
        for (const auto& [k, v] : sr->items()) {
            Severity sev{};
            Rung rung{};
            if (!r.parse_name(k, "data.start_rung", sev)) break;
            if (!v.is_string()) {
                r.fail(errc::bad_request, "data.start_rung." + k + " must be a string");
                break;
            }
            if (!r.parse_name(v.get<std::string>(), "data.start_rung." + k, rung)) break;
            if (rung == Rung::department) {
                r.fail(errc::unprocessable, "data.start_rung." + k + ": a case cannot start at \"department\" (a department must be chosen)");
                break;
            }
            e.start_rung[sev] = rung;
        }
    }
    if (const json* v = r.field("satisfied_threshold", false)) {
        double x;
        if (r.number(*v, "satisfied_threshold", x)) {
            if (x < 0 || x > 1) r.fail(errc::unprocessable, "data.satisfied_threshold must be between 0 and 1");
            else e.satisfied_threshold = x;
        }
    }
    std::int64_t n;
    if (r.integer("max_returns", n, false)) {
        if (n < 0 || n > 100) r.fail(errc::unprocessable, "data.max_returns must be between 0 and 100");
        else e.max_returns = n;
    }
    if (const json* v = r.field("lost_contact_after", false)) {
        Duration d;
        if (r.duration(*v, "data.lost_contact_after", d)) {
            if (d.calendar().count() <= 0) r.fail(errc::unprocessable, "data.lost_contact_after must be longer than zero");
            else e.lost_contact_after = d;
        }
    }
    if (const json* a = r.array("stars", false)) {
        std::vector<double> t;
        for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
            double x;
            if (r.number((*a)[i], "stars[" + std::to_string(i) + "]", x)) t.push_back(x);
        }
        if (r.ok()) {
            bool ordered = t.size() == 4;
            for (std::size_t i = 0; ordered && i < t.size(); ++i)
                ordered = t[i] >= 0 && t[i] <= 100 && (i == 0 || t[i] >= t[i - 1]);
            if (!ordered)
                r.fail(errc::unprocessable, "data.stars must be four non-decreasing scores in [0, 100]: the minimum for 2, 3, 4 and 5 stars");
            else e.stars = std::move(t);
        }
    }
}

void read(Reader& r, const json&, CalendarSet& e) {
    r.text("timezone", e.timezone, true, 64);
    if (const json* a = r.array("workdays", true)) {
        std::set<int> seen;
        for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
            const auto& v = (*a)[i];
            const std::string where = "data.workdays[" + std::to_string(i) + "]";
            if (!v.is_number_integer()) r.fail(errc::bad_request, where + " must be an integer");
            else if (v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 7) r.fail(errc::unprocessable, where + " must be an ISO weekday 1..7");
            else if (!seen.insert(v.get<int>()).second) r.fail(errc::unprocessable, where + " repeats a weekday");
        }
        e.workdays.assign(seen.begin(), seen.end());
    }
    if (const json* a = r.array("work_hours", true)) {
        if (a->size() != 2 || !(*a)[0].is_string() || !(*a)[1].is_string()) {
            r.fail(errc::bad_request, "data.work_hours must be [\"HH:MM\", \"HH:MM\"]");
        } else {
            e.work_hours = {(*a)[0].get<std::string>(), (*a)[1].get<std::string>()};
            if (!valid_clock(e.work_hours[0]) || !valid_clock(e.work_hours[1]) || e.work_hours[0] == "24:00")
                r.fail(errc::unprocessable, "data.work_hours must be two times of day \"HH:MM\" (the end may be \"24:00\")");
            else if (e.work_hours[0] >= e.work_hours[1])
                r.fail(errc::unprocessable, "data.work_hours: the start must be before the end");
        }
    }
    auto dates = [&](const char* key, std::vector<std::string>& out) {
        const json* a = r.array(key, false);
        if (!a) return;
        std::set<std::string> seen;
        for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
            const auto& v = (*a)[i];
            const std::string where = r.path(key) + "[" + std::to_string(i) + "]";
            if (!v.is_string()) r.fail(errc::bad_request, where + " must be a date string");
            else if (!valid_date(v.get_ref<const std::string&>())) r.fail(errc::unprocessable, where + " must be a date YYYY-MM-DD");
            else seen.insert(v.get<std::string>());
        }
        out.assign(seen.begin(), seen.end());
    };
    dates("holidays", e.holidays);
    dates("makeup_workdays", e.makeup_workdays);
}

void read(Reader& r, const json&, MemberRegistered& e) {
    r.id("member_id", e.member_id);
    r.text("name", e.name, true, max_name);
    r.enumeration("category", e.category);
    r.id("home_branch", e.home_branch);
    r.id("residence_grid", e.residence_grid);
}
void read(Reader& r, const json&, MemberRelocated& e) {
    r.id("member_id", e.member_id);
    r.id("to_grid", e.to_grid);
    r.text("reason", e.reason);
}
void read(Reader& r, const json&, MemberReportedIn& e) {
    r.id("member_id", e.member_id);
    r.id("grid_id", e.grid_id);
}
void read(Reader& r, const json&, MemberContacted& e) {
    r.id("member_id", e.member_id);
    r.text("by", e.by, true, max_name);
    r.text("channel", e.channel, true, max_name);
}
void read(Reader& r, const json&, MembershipTransferred& e) {
    r.id("member_id", e.member_id);
    r.id("to_branch", e.to_branch);
}
void positive_points(Reader& r, std::int64_t& points) {
    if (r.integer("points", points) && (points <= 0 || points > 1'000'000))
        r.fail(errc::unprocessable, "data.points must be a whole number between 1 and 1000000");
}
void read(Reader& r, const json&, PointsAwarded& e) {
    r.id("member_id", e.member_id);
    positive_points(r, e.points);
    r.text("reason", e.reason);
    r.id("case_id", e.case_id);
}
void read(Reader& r, const json&, PointsRedeemed& e) {
    r.id("member_id", e.member_id);
    positive_points(r, e.points);
    r.text("item", e.item, true, max_name);
}

void read(Reader& r, const json&, IssueReported& e) {
    r.id("case_id", e.case_id);
    r.id("category", e.category);
    r.text("description", e.description);
    r.enumeration("source", e.source);
    r.id("grid_id", e.grid_id);
    if (const json* loc = r.object("location", false)) {
        Reader lr(*loc, "data.location");
        double lat = 0, lng = 0;
        if (const json* v = lr.field("lat", true)) lr.number(*v, "lat", lat);
        if (const json* v = lr.field("lng", true)) lr.number(*v, "lng", lng);
        lr.finish();
        if (!lr.ok()) {
            auto err = lr.take_error();
            r.fail(err.code, err.message);
        } else if (lat < -90 || lat > 90 || lng < -180 || lng > 180) {
            r.fail(errc::unprocessable, "data.location is outside lat [-90, 90], lng [-180, 180]");
        } else {
            e.location = Location{lat, lng};
        }
    }
    if (r.ok() && !e.grid_id && !e.location) r.fail(errc::bad_request, "data.grid_id or data.location is required");
    r.enumeration("severity", e.severity);
    r.text("reporter", e.reporter, max_name);
    if (const json* a = r.array("media", false)) {
        std::vector<std::string> media;
        for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
            const auto& v = (*a)[i];
            if (!v.is_string() || v.get_ref<const std::string&>().empty() || v.get_ref<const std::string&>().size() > 2000)
                r.fail(errc::unprocessable, "data.media[" + std::to_string(i) + "] must be a non-empty string (a URL) of at most 2000 bytes");
            else media.push_back(v.get<std::string>());
        }
        if (r.ok()) e.media = std::move(media);
    }
}
void read(Reader& r, const json&, IssueDiscussed& e) {
    r.id("case_id", e.case_id);
    r.ids("participants", e.participants, true, true);
    if (const json* a = r.array("teams", false)) {
        std::vector<Team> teams;
        for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
            Team t{};
            const std::string where = "data.teams[" + std::to_string(i) + "]";
            if (!(*a)[i].is_string()) r.fail(errc::bad_request, where + " must be a string");
            else if (r.parse_name((*a)[i].get<std::string>(), where, t)) teams.push_back(t);
        }
        if (r.ok()) e.teams = std::move(teams);
    }
    r.text("decision", e.decision);
}
void read(Reader& r, const json&, IssueEscalated& e) {
    r.id("case_id", e.case_id);
    r.enumeration("to_rung", e.to_rung);
    r.id("dept_id", e.dept_id);
    r.text("reason", e.reason);
    r.boolean("auto", e.automatic);
    if (!r.ok()) return;
    if (e.to_rung == Rung::department && !e.dept_id) r.fail(errc::bad_request, "data.dept_id is required when data.to_rung is \"department\"");
    else if (e.to_rung != Rung::department && e.dept_id)
        r.fail(errc::unprocessable, "data.dept_id is only allowed when data.to_rung is \"department\"");
}
void read(Reader& r, const json&, IssueReturned& e) {
    r.id("case_id", e.case_id);
    r.id("dept_id", e.dept_id);
    r.text("reason", e.reason);
}
void read(Reader& r, const json&, IssueSupervised& e) {
    r.id("case_id", e.case_id);
    r.text("by", e.by, true, max_name);
    r.text("note", e.note);
}
void read(Reader& r, const json&, IssueHandled& e) {
    r.id("case_id", e.case_id);
    r.text("handler", e.handler, true, max_name);
    r.text("result", e.result);
    r.ids("volunteers", e.volunteers);
}
void read(Reader& r, const json&, FeedbackGiven& e) {
    r.id("case_id", e.case_id);
    r.text("to", e.to, true, max_name);
    r.text("content", e.content);
}
void read(Reader& r, const json&, SatisfactionRated& e) {
    r.id("case_id", e.case_id);
    r.enumeration("rating", e.rating);
    r.enumeration("solved", e.solved);
    r.text("rater", e.rater, true, max_name);
    r.text("comment", e.comment);
}
void read(Reader& r, const json&, IssueDismissed& e) {
    r.id("case_id", e.case_id);
    r.enumeration("reason", e.reason);
    r.text("note", e.note);
}

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

template <std::size_t I = 0> Result<Event> decode_as(std::size_t index, const json& data) {
    if constexpr (I < std::variant_size_v<Event>) {
        if (index != I) return decode_as<I + 1>(index, data);
        std::variant_alternative_t<I, Event> e;
        Reader r(data, "data");
        read(r, data, e);
        r.finish();
        if (!r.ok()) return r.take_error();
        return Event{std::move(e)};
    } else {
        return unprocessable("unknown event type");
    }
}

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

Result<Event> decode_event(std::string_view type, const json& data) {
    for (std::size_t i = 0; i < all_types.size(); ++i) {
        if (all_types[i] != type) continue;
        if (!data.is_object()) return bad_request("data must be an object");
        return decode_as(i, data);
    }
    std::string known;
    for (auto t : all_types) known += (known.empty() ? "" : ", ") + std::string(t);
    return unprocessable("type: \"" + std::string(type.substr(0, 80)) + "\" is not an event type (one of " + known + ")");
}

json encode_data(const Event& e) {
    return std::visit([](const auto& ev) { return encode(ev); }, e);
}

Result<Posted> decode_posted(const json& body) {
    if (!body.is_object()) return bad_request("an event must be a JSON object");
    Reader r(body, "event");
    std::string type;
    if (const json* t = r.field("type", true); t && r.type_is(*t, json::value_t::string, "type", "a string"))
        type = t->get<std::string>();
    const json* data = r.object("data", true);
    Posted p{GridDefined{}, {}, {}, {}, {}};
    if (const json* id = r.field("event_id", false); id && r.type_is(*id, json::value_t::string, "event_id", "a string")) {
        const auto& s = id->get_ref<const std::string&>();
        if (s.empty() || s.size() > 64) r.fail(errc::unprocessable, "event.event_id must be 1 to 64 characters");
        else {
            bool printable = true;
            for (unsigned char c : s) printable = printable && c > 0x20 && c < 0x7f;
            if (!printable) r.fail(errc::unprocessable, "event.event_id must be printable ASCII without spaces");
            else p.event_id = s;
        }
    }
    if (const json* t = r.field("occurred_at", false); t && r.type_is(*t, json::value_t::string, "occurred_at", "a string")) {
        p.occurred_at = parse_time(t->get_ref<const std::string&>());
        if (!p.occurred_at) r.fail(errc::unprocessable, "event.occurred_at must be RFC 3339 with an offset, e.g. 2026-11-21T09:14:00+08:00");
    }
    std::int64_t v;
    if (r.integer("expected_version", v, false)) {
        if (v < 0) r.fail(errc::unprocessable, "event.expected_version must be 0 or more");
        else p.expected_version = v;
    }
    if (const json* a = r.field("actor", false); a && r.type_is(*a, json::value_t::string, "actor", "a string"))
        p.actor = a->get<std::string>();
    r.finish();
    if (!r.ok()) return r.take_error();
    auto ev = decode_event(type, *data);
    if (!ev) return ev.error();
    p.event = std::move(ev.value());
    return p;
}

} // namespace gridloop::events

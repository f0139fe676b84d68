// The strict event decoder, written once against a small JSON value interface so that events
// decoded from nlohmann's DOM (event.cpp) and from simdjson's (stored.cpp: stored rows and posted
// bodies) go through the same checks and get the same messages. Internal to events/: include it only
// from those two files.
//
// A value type V is cheap to copy and offers:
//   Kind kind() const;
//   std::string_view str() const;        // kind() == string
//   std::int64_t int64() const;          // kind() == integer
//   double number() const;               // integer, big_unsigned or floating
//   bool boolean() const;                // kind() == boolean
//   std::size_t size() const;            // array or object
//   std::optional<V> find(std::string_view key) const;           // object: the member, or nullopt
//   template <class F> void each(F f) const;                      // array: f(i, item) until it returns false
//   template <class F> void each_member(F f) const;               // object: f(key, value) until it returns false
//
// each_member visits the members in key order (bytewise, as nlohmann's std::map holds them): which
// error is found first, and the order of names in "unknown field(s): ...", depend on it. A value
// whose object may repeat a key visits every copy; find() may then return any one of them.
#pragma once

#include "events/event.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridloop::events::decoder {

// JSON value kinds as the decoder sees them. Integers that fit std::int64_t are `integer` whatever
// sign the parser gave them; only those above INT64_MAX are `big_unsigned`.
enum class Kind { null, boolean, string, array, object, integer, big_unsigned, floating };

constexpr std::size_t max_name = 200;
constexpr std::size_t max_text = 4000;

inline const char* kind_name(Kind k) {
    switch (k) {
    case Kind::null: return "null";
    case Kind::boolean: return "a boolean";
    case Kind::string: return "a string";
    case Kind::array: return "an array";
    case Kind::object: return "an object";
    case Kind::floating: return "a fractional number";
    default: return "a number";
    }
}
inline bool is_integer(Kind k) { return k == Kind::integer || k == Kind::big_unsigned; }
inline bool is_number(Kind k) { return is_integer(k) || k == Kind::floating; }

inline bool valid_date(std::string_view s) {
    // YYYY-MM-DD, a real calendar date.
    return s.size() == 10 && parse_time(std::string(s) + "T00:00:00Z").has_value();
}

inline bool valid_clock(std::string_view s) {
    if (s.size() != 5 || s[2] != ':') return false;
    for (int i : {0, 1, 3, 4})
        if (s[i] < '0' || s[i] > '9') return false;
    const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return (h < 24 && m < 60) || (h == 24 && m == 0);
}

inline std::string indexed(std::string_view path, std::size_t i) {
    return std::string(path) + "[" + std::to_string(i) + "]";
}

// Reads the fields of one JSON object, remembering the first error and every key it consumed, so
// that keys nobody asked for can be refused by name. Messages are built only on failure.
template <class V> class Reader {
public:
    Reader(V obj, std::string_view prefix) : obj_(obj), prefix_(prefix) {}

    bool ok() const { return !err_; }
    Error take_error() { return std::move(*err_); }

    // A field value; nullopt when absent (or null) and not required. Fails on absence when required.
    std::optional<V> field(std::string_view key, bool required) {
        if (err_) return std::nullopt;
        mark_seen(key);
        auto v = obj_.find(key);
        if (!v || v->kind() == Kind::null) {
            if (required) fail(errc::bad_request, path(key) + " is required");
            return std::nullopt;
        }
        return v;
    }

    void fail(errc code, std::string msg) {
        if (!err_) err_ = Error{code, std::move(msg)};
    }
    std::string path(std::string_view key) const {
        std::string p(prefix_);
        p += '.';
        p += key;
        return p;
    }

    bool type_is(const V& v, Kind want, std::string_view key, const char* want_name) {
        const Kind k = v.kind();
        const bool match = k == want || (want == Kind::integer && k == Kind::big_unsigned);
        if (!match) fail(errc::bad_request, path(key) + " must be " + want_name + ", not " + kind_name(k));
        return match && !err_;
    }

    bool text(std::string_view key, std::string& out, bool required = true, std::size_t max = max_text) {
        const auto v = field(key, required);
        if (!v || !type_is(*v, Kind::string, key, "a string")) return false;
        const std::string_view s = v->str();
        if (s.empty()) fail(errc::unprocessable, path(key) + " must not be empty");
        else if (s.size() > max) fail(errc::unprocessable, path(key) + " is longer than " + std::to_string(max) + " bytes");
        else out.assign(s);
        return ok();
    }
    void text(std::string_view key, std::optional<std::string>& out, std::size_t max = max_text) {
        std::string s;
        if (text(key, s, false, max)) out = std::move(s);
    }
    bool id(std::string_view key, std::string& out, bool required = true) {
        const auto v = field(key, required);
        if (!v || !type_is(*v, Kind::string, key, "a string")) return false;
        const std::string_view s = v->str();
        if (!valid_id(s)) {
            fail(errc::unprocessable, path(key) + ": \"" + std::string(s.substr(0, 80)) + "\" is not a valid id (^[a-z0-9][a-z0-9._-]{0,63}$)");
            return false;
        }
        out.assign(s);
        return true;
    }
    void id(std::string_view key, std::optional<std::string>& out) {
        std::string s;
        if (id(key, s, false)) out = std::move(s);
    }
    template <class E> bool enumeration(std::string_view key, E& out, bool required = true) {
        const auto v = field(key, required);
        if (!v || !type_is(*v, Kind::string, key, "a string")) return false;
        if (auto e = parse_enum<E>(v->str())) {
            out = *e;
            return true;
        }
        return parse_name(v->str(), path(key), out);
    }
    template <class E> void enumeration(std::string_view key, std::optional<E>& out) {
        E e{};
        if (enumeration(key, e, false)) out = e;
    }
    template <class E> bool parse_name(std::string_view s, const std::string& where, E& out) {
        auto e = parse_enum<E>(s);
        if (!e) {
            fail(errc::unprocessable, where + ": \"" + std::string(s.substr(0, 80)) + "\" is not one of " + enum_choices<E>());
            return false;
        }
        out = *e;
        return true;
    }
    bool integer(std::string_view key, std::int64_t& out, bool required = true) {
        const auto v = field(key, required);
        if (!v || !type_is(*v, Kind::integer, key, "an integer")) return false;
        if (v->kind() == Kind::big_unsigned) {
            fail(errc::unprocessable, path(key) + " is too large");
            return false;
        }
        out = v->int64();
        return true;
    }
    bool number(const V& v, std::string_view key, double& out) {
        if (!is_number(v.kind())) {
            fail(errc::bad_request, path(key) + " must be a number, not " + kind_name(v.kind()));
            return false;
        }
        out = v.number();
        if (!std::isfinite(out)) {
            fail(errc::unprocessable, path(key) + " must be finite");
            return false;
        }
        return true;
    }
    void boolean(std::string_view key, bool& out) {
        const auto v = field(key, false);
        if (v && type_is(*v, Kind::boolean, key, "a boolean")) out = v->boolean();
    }
    std::optional<V> array(std::string_view key, bool required, bool nonempty = false) {
        const auto v = field(key, required);
        if (!v || !type_is(*v, Kind::array, key, "an array")) return std::nullopt;
        const std::size_t n = v->size();
        if (nonempty && n == 0) {
            fail(errc::unprocessable, path(key) + " must not be empty");
            return std::nullopt;
        }
        if (n > 10000) {
            fail(errc::unprocessable, path(key) + " has more than 10000 items");
            return std::nullopt;
        }
        return v;
    }
    std::optional<V> object(std::string_view key, bool required) {
        const auto v = field(key, required);
        if (!v || !type_is(*v, Kind::object, key, "an object")) return std::nullopt;
        return v;
    }
    // Calls f(i, item) for each item of an array while no error has been recorded.
    template <class F> void items(const V& a, F&& f) {
        a.each([&](std::size_t i, const V& item) {
            if (!ok()) return false;
            f(i, item);
            return ok();
        });
    }
    // Array of ids, each checked, no duplicates.
    bool ids(std::string_view key, std::vector<std::string>& out, bool required = true, bool nonempty = false) {
        const auto a = array(key, required, nonempty);
        if (!a) return false;
        // A short list is searched; a long one (up to 10000 items) gets a set.
        std::set<std::string_view> unique;
        const bool use_set = a->size() > 16;
        out.reserve(a->size());
        items(*a, [&](std::size_t i, const V& v) {
            if (v.kind() != Kind::string) {
                fail(errc::bad_request, indexed(path(key), i) + " must be a string, not " + kind_name(v.kind()));
                return;
            }
            const std::string_view s = v.str();
            if (!valid_id(s)) fail(errc::unprocessable, indexed(path(key), i) + " is not a valid id");
            else if (use_set ? !unique.insert(s).second : std::find(out.begin(), out.end(), s) != out.end())
                fail(errc::unprocessable, indexed(path(key), i) + " repeats \"" + std::string(s) + "\"");
            else out.emplace_back(s);
        });
        return ok();
    }
    void ids(std::string_view key, std::optional<std::vector<std::string>>& out) {
        std::vector<std::string> v;
        if (ids(key, v, false)) out = std::move(v);
    }
    bool duration(const V& v, const std::string& where, Duration& out) {
        const Kind k = v.kind();
        if (is_integer(k)) {
            if (k == Kind::big_unsigned || v.int64() < 0 || v.int64() > 100'000'000'000LL) {
                fail(errc::unprocessable, where + " is out of range");
                return false;
            }
            out = Duration{0, v.int64()};
            return true;
        }
        if (k != Kind::string) {
            fail(errc::bad_request, where + " must be an ISO 8601 duration string or whole seconds, not " + kind_name(k));
            return false;
        }
        auto d = parse_duration(v.str());
        if (!d) {
            fail(errc::unprocessable, where + ": \"" + std::string(v.str().substr(0, 40)) +
                                          "\" is not an ISO 8601 duration of weeks, days, hours, minutes and seconds");
            return false;
        }
        out = *d;
        return true;
    }

    // Refuses keys that were never read (and, where the parser keeps them, keys given twice).
    void finish() {
        if (err_) return;
        std::string unknown, repeated;
        std::array<bool, max_keys> matched{};
        obj_.each_member([&](std::string_view k, const V&) {
            const auto i = seen_index(k);
            if (i == seen_count_) {
                unknown += (unknown.empty() ? "" : ", ") + path(k);
            } else if (matched[i]) {
                if (repeated.empty()) repeated = path(k);
            } else {
                matched[i] = true;
            }
            return true;
        });
        if (!unknown.empty()) fail(errc::unprocessable, "unknown field(s): " + unknown);
        else if (!repeated.empty()) fail(errc::unprocessable, repeated + " is given more than once");
    }

private:
    // Every key is a literal of this file; no event has more fields than this.
    static constexpr std::size_t max_keys = 16;

    std::size_t seen_index(std::string_view k) const {
        std::size_t i = 0;
        while (i < seen_count_ && seen_[i] != k) ++i;
        return i;
    }
    void mark_seen(std::string_view key) {
        if (seen_index(key) < seen_count_) return;
        if (seen_count_ == max_keys) throw std::logic_error("events::decoder::Reader: more than 16 fields read from one object");
        seen_[seen_count_++] = key;
    }

    V obj_;
    std::string_view prefix_;
    std::array<std::string_view, max_keys> seen_{};
    std::size_t seen_count_ = 0;
    std::optional<Error> err_;
};

// The first two items of an array (nullopt for those it lacks).
template <class V> std::pair<std::optional<V>, std::optional<V>> first_two(const V& a) {
    std::pair<std::optional<V>, std::optional<V>> out;
    a.each([&](std::size_t i, const V& v) {
        (i == 0 ? out.first : out.second) = v;
        return i == 0;
    });
    return out;
}

// ---- per-type decoding ----

template <class V> void read(Reader<V>& r, GridDefined& e) {
    r.id("grid_id", e.grid_id);
    r.text("name", e.name, true, max_name);
    r.enumeration("level", e.level);
    r.id("parent_id", e.parent_id);
    if (r.ok() && e.level == Level::town && e.parent_id) r.fail(errc::unprocessable, "data.parent_id must be null for a town");
    if (r.ok() && e.level != Level::town && !e.parent_id)
        r.fail(errc::unprocessable, "data.parent_id is required for a grid of level \"" + std::string(to_string(e.level)) + "\"");
    if (const auto b = r.object("boundary", false)) {
        const auto type = b->find("type");
        const auto coords = b->find("coordinates");
        if (!type || type->kind() != Kind::string || type->str() != "Polygon" || !coords || coords->kind() != Kind::array ||
            coords->size() == 0) {
            r.fail(errc::unprocessable, "data.boundary must be a GeoJSON Polygon {\"type\": \"Polygon\", \"coordinates\": [[[lng, lat], ...]]}");
        } else {
            Polygon p;
            r.items(*coords, [&](std::size_t i, const V& ring) {
                const std::string where = indexed("data.boundary.coordinates", i);
                if (ring.kind() != Kind::array || ring.size() < 4) {
                    r.fail(errc::unprocessable, where + " must be a ring of at least 4 positions");
                    return;
                }
                Ring out;
                out.reserve(ring.size());
                r.items(ring, [&](std::size_t j, const V& pos) {
                    const auto [x, y] = pos.kind() == Kind::array && pos.size() == 2 ? first_two(pos) : decltype(first_two(pos)){};
                    if (!x || !y || !is_number(x->kind()) || !is_number(y->kind())) {
                        r.fail(errc::unprocessable, indexed(where, j) + " must be a position [lng, lat]");
                        return;
                    }
                    const double lng = x->number(), lat = y->number();
                    if (!(lng >= -180 && lng <= 180 && lat >= -90 && lat <= 90))
                        r.fail(errc::unprocessable, indexed(where, j) + " is outside [-180, 180] x [-90, 90]");
                    out.push_back({lng, lat});
                });
                if (r.ok() && out.front() != out.back()) r.fail(errc::unprocessable, where + " is not closed (first position != last)");
                p.rings.push_back(std::move(out));
            });
            if (r.ok()) e.boundary = std::move(p);
        }
    }
    r.text("station", e.station, max_name);
}

template <class V> void read(Reader<V>& r, DepartmentRegistered& e) {
    r.id("dept_id", e.dept_id);
    r.text("name", e.name, true, max_name);
    r.enumeration("kind", e.kind);
    r.ids("serves", e.serves, true, true);
}

template <class V> void read(Reader<V>& r, PersonAssigned& e) {
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

template <class V> void read(Reader<V>& r, PolicySet& e) {
    if (const auto limits = r.object("limits", true)) {
        limits->each_member([&](std::string_view k, const V& v) {
            const std::string key(k);
            Rung rung{};
            if (!r.parse_name(k, "data.limits", rung)) return false;
            Duration d;
            if (!r.duration(v, "data.limits." + key, d)) return false;
            if (d.days == 0 && d.seconds == 0) {
                r.fail(errc::unprocessable, "data.limits." + key + " must be longer than zero");
                return false;
            }
            // A due time is found by walking the calendar week by week: an unbounded limit
            // (P9999999999W) kept the writer busy for hours, and no ladder needs a year per rung.
            if (d.calendar() > std::chrono::days(366)) {
                r.fail(errc::unprocessable, "data.limits." + key + " must be at most P366D");
                return false;
            }
            e.limits[rung] = d;
            return true;
        });
    }
    if (const auto sr = r.object("start_rung", false)) {
        sr->each_member([&](std::string_view k, const V& v) {
            const std::string key(k);
            Severity sev{};
            Rung rung{};
            if (!r.parse_name(k, "data.start_rung", sev)) return false;
            if (v.kind() != Kind::string) {
                r.fail(errc::bad_request, "data.start_rung." + key + " must be a string");
                return false;
            }
            if (!r.parse_name(v.str(), "data.start_rung." + key, rung)) return false;
            if (rung == Rung::department) {
                r.fail(errc::unprocessable, "data.start_rung." + key + ": a case cannot start at \"department\" (a department must be chosen)");
                return false;
            }
            e.start_rung[sev] = rung;
            return true;
        });
    }
    if (const auto v = r.field("satisfied_threshold", false)) {
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
    if (const auto v = r.field("lost_contact_after", false)) {
        Duration d;
        if (r.duration(*v, "data.lost_contact_after", d)) {
            if (d.calendar().count() <= 0) r.fail(errc::unprocessable, "data.lost_contact_after must be longer than zero");
            else e.lost_contact_after = d;
        }
    }
    if (const auto a = r.array("stars", false)) {
        std::vector<double> t;
        r.items(*a, [&](std::size_t i, const V& v) {
            double x;
            if (r.number(v, indexed("stars", i), x)) t.push_back(x);
        });
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

template <class V> void read(Reader<V>& r, CalendarSet& e) {
    r.text("timezone", e.timezone, true, 64);
    if (const auto a = r.array("workdays", true)) {
        std::set<int> seen;
        r.items(*a, [&](std::size_t i, const V& v) {
            if (!is_integer(v.kind())) r.fail(errc::bad_request, indexed("data.workdays", i) + " must be an integer");
            else if (v.kind() == Kind::big_unsigned || v.int64() < 1 || v.int64() > 7)
                r.fail(errc::unprocessable, indexed("data.workdays", i) + " must be an ISO weekday 1..7");
            else if (!seen.insert(static_cast<int>(v.int64())).second)
                r.fail(errc::unprocessable, indexed("data.workdays", i) + " repeats a weekday");
        });
        e.workdays.assign(seen.begin(), seen.end());
    }
    if (const auto a = r.array("work_hours", true)) {
        const auto [start, end] = first_two(*a);
        if (a->size() != 2 || start->kind() != Kind::string || end->kind() != Kind::string) {
            r.fail(errc::bad_request, "data.work_hours must be [\"HH:MM\", \"HH:MM\"]");
        } else {
            e.work_hours = {std::string(start->str()), std::string(end->str())};
            if (!valid_clock(e.work_hours[0]) || !valid_clock(e.work_hours[1]) || e.work_hours[0] == "24:00")
                r.fail(errc::unprocessable, "data.work_hours must be two times of day \"HH:MM\" (the end may be \"24:00\")");
            else if (e.work_hours[0] >= e.work_hours[1])
                r.fail(errc::unprocessable, "data.work_hours: the start must be before the end");
        }
    }
    auto dates = [&](std::string_view key, std::vector<std::string>& out) {
        const auto a = r.array(key, false);
        if (!a) return;
        std::set<std::string> seen;
        r.items(*a, [&](std::size_t i, const V& v) {
            if (v.kind() != Kind::string) r.fail(errc::bad_request, indexed(r.path(key), i) + " must be a date string");
            else if (!valid_date(v.str())) r.fail(errc::unprocessable, indexed(r.path(key), i) + " must be a date YYYY-MM-DD");
            else seen.emplace(v.str());
        });
        out.assign(seen.begin(), seen.end());
    };
    dates("holidays", e.holidays);
    dates("makeup_workdays", e.makeup_workdays);
}

template <class V> void read(Reader<V>& r, MemberRegistered& e) {
    r.id("member_id", e.member_id);
    r.text("name", e.name, true, max_name);
    r.enumeration("category", e.category);
    r.id("home_branch", e.home_branch);
    r.id("residence_grid", e.residence_grid);
}
template <class V> void read(Reader<V>& r, MemberRelocated& e) {
    r.id("member_id", e.member_id);
    r.id("to_grid", e.to_grid);
    r.text("reason", e.reason);
}
template <class V> void read(Reader<V>& r, MemberReportedIn& e) {
    r.id("member_id", e.member_id);
    r.id("grid_id", e.grid_id);
}
template <class V> void read(Reader<V>& r, MemberContacted& e) {
    r.id("member_id", e.member_id);
    r.text("by", e.by, true, max_name);
    r.text("channel", e.channel, true, max_name);
}
template <class V> void read(Reader<V>& r, MembershipTransferred& e) {
    r.id("member_id", e.member_id);
    r.id("to_branch", e.to_branch);
}
template <class V> void positive_points(Reader<V>& r, std::int64_t& points) {
    if (r.integer("points", points) && (points <= 0 || points > 1'000'000))
        r.fail(errc::unprocessable, "data.points must be a whole number between 1 and 1000000");
}
template <class V> void read(Reader<V>& r, PointsAwarded& e) {
    r.id("member_id", e.member_id);
    positive_points(r, e.points);
    r.text("reason", e.reason);
    r.id("case_id", e.case_id);
}
template <class V> void read(Reader<V>& r, PointsRedeemed& e) {
    r.id("member_id", e.member_id);
    positive_points(r, e.points);
    r.text("item", e.item, true, max_name);
}

template <class V> void read(Reader<V>& r, IssueReported& e) {
    r.id("case_id", e.case_id);
    r.id("category", e.category);
    r.text("description", e.description);
    r.enumeration("source", e.source);
    r.id("grid_id", e.grid_id);
    if (const auto loc = r.object("location", false)) {
        Reader<V> lr(*loc, "data.location");
        double lat = 0, lng = 0;
        if (const auto v = lr.field("lat", true)) lr.number(*v, "lat", lat);
        if (const auto v = lr.field("lng", true)) lr.number(*v, "lng", lng);
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
    if (const auto a = r.array("media", false)) {
        std::vector<std::string> media;
        r.items(*a, [&](std::size_t i, const V& v) {
            if (v.kind() != Kind::string || v.str().empty() || v.str().size() > 2000)
                r.fail(errc::unprocessable, indexed("data.media", i) + " must be a non-empty string (a URL) of at most 2000 bytes");
            else media.emplace_back(v.str());
        });
        if (r.ok()) e.media = std::move(media);
    }
}
template <class V> void read(Reader<V>& r, IssueDiscussed& e) {
    r.id("case_id", e.case_id);
    r.ids("participants", e.participants, true, true);
    if (const auto a = r.array("teams", false)) {
        std::vector<Team> teams;
        r.items(*a, [&](std::size_t i, const V& v) {
            Team t{};
            if (v.kind() != Kind::string) r.fail(errc::bad_request, indexed("data.teams", i) + " must be a string");
            else if (r.parse_name(v.str(), indexed("data.teams", i), t)) teams.push_back(t);
        });
        if (r.ok()) e.teams = std::move(teams);
    }
    r.text("decision", e.decision);
}
template <class V> void read(Reader<V>& r, IssueEscalated& e) {
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
template <class V> void read(Reader<V>& r, IssueReturned& e) {
    r.id("case_id", e.case_id);
    r.id("dept_id", e.dept_id);
    r.text("reason", e.reason);
}
template <class V> void read(Reader<V>& r, IssueSupervised& e) {
    r.id("case_id", e.case_id);
    r.text("by", e.by, true, max_name);
    r.text("note", e.note);
}
template <class V> void read(Reader<V>& r, IssueHandled& e) {
    r.id("case_id", e.case_id);
    r.text("handler", e.handler, true, max_name);
    r.text("result", e.result);
    r.ids("volunteers", e.volunteers);
}
template <class V> void read(Reader<V>& r, FeedbackGiven& e) {
    r.id("case_id", e.case_id);
    r.text("to", e.to, true, max_name);
    r.text("content", e.content);
}
template <class V> void read(Reader<V>& r, SatisfactionRated& e) {
    r.id("case_id", e.case_id);
    r.enumeration("rating", e.rating);
    r.enumeration("solved", e.solved);
    r.text("rater", e.rater, true, max_name);
    r.text("comment", e.comment);
}
template <class V> void read(Reader<V>& r, IssueDismissed& e) {
    r.id("case_id", e.case_id);
    r.enumeration("reason", e.reason);
    r.text("note", e.note);
}

template <std::size_t I, class V> Result<Event> decode_as(std::size_t index, const V& data) {
    if constexpr (I < std::variant_size_v<Event>) {
        if (index != I) return decode_as<I + 1>(index, data);
        std::variant_alternative_t<I, Event> e;
        Reader<V> r(data, "data");
        read(r, e);
        r.finish();
        if (!r.ok()) return r.take_error();
        return Event{std::move(e)};
    } else {
        return unprocessable("unknown event type");
    }
}

// Strict decoding of an event's `data` (see decode_event in event.hpp).
template <class V> Result<Event> decode(std::string_view type, const V& data) {
    const auto types = event_types();
    for (std::size_t i = 0; i < types.size(); ++i) {
        if (types[i] != type) continue;
        if (data.kind() != Kind::object) return bad_request("data must be an object");
        return decode_as<0>(i, data);
    }
    std::string known;
    for (auto t : types) known += (known.empty() ? "" : ", ") + std::string(t);
    return unprocessable("type: \"" + std::string(type.substr(0, 80)) + "\" is not an event type (one of " + known + ")");
}

// An event as a client posts it (see decode_posted in event.hpp).
template <class V> Result<Posted> decode_posted(const V& body) {
    if (body.kind() != Kind::object) return bad_request("an event must be a JSON object");
    Reader<V> r(body, "event");
    std::string type;
    if (const auto t = r.field("type", true); t && r.type_is(*t, Kind::string, "type", "a string")) type = t->str();
    const auto data = r.object("data", true);
    Posted p{GridDefined{}, {}, {}, {}, {}};
    if (const auto id = r.field("event_id", false); id && r.type_is(*id, Kind::string, "event_id", "a string")) {
        const std::string_view s = id->str();
        if (s.empty() || s.size() > 64) r.fail(errc::unprocessable, "event.event_id must be 1 to 64 characters");
        else {
            bool printable = true;
            for (unsigned char c : s) printable = printable && c > 0x20 && c < 0x7f;
            if (!printable) r.fail(errc::unprocessable, "event.event_id must be printable ASCII without spaces");
            else p.event_id = std::string(s);
        }
    }
    if (const auto t = r.field("occurred_at", false); t && r.type_is(*t, Kind::string, "occurred_at", "a string")) {
        p.occurred_at = parse_time(t->str());
        if (!p.occurred_at) r.fail(errc::unprocessable, "event.occurred_at must be RFC 3339 with an offset, e.g. 2026-11-21T09:14:00+08:00");
    }
    std::int64_t v;
    if (r.integer("expected_version", v, false)) {
        if (v < 0) r.fail(errc::unprocessable, "event.expected_version must be 0 or more");
        else p.expected_version = v;
    }
    if (const auto a = r.field("actor", false); a && r.type_is(*a, Kind::string, "actor", "a string")) p.actor = std::string(a->str());
    r.finish();
    if (!r.ok()) return r.take_error();
    auto ev = decode(type, *data);
    if (!ev) return ev.error();
    p.event = std::move(ev.value());
    return p;
}

} // namespace gridloop::events::decoder

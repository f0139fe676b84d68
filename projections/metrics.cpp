// Metric definitions, exactly as in the contract.
#include "projections/metrics.hpp"

#include "events/json_writer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <tuple>

namespace gridloop::projections {

using namespace events;

namespace {

std::optional<double> ratio(std::int64_t num, std::int64_t den) {
    if (den == 0) return std::nullopt;
    return static_cast<double>(num) / static_cast<double>(den);
}

nlohmann::json rate(std::optional<double> r) { return r ? nlohmann::json(*r) : nlohmann::json(nullptr); }

} // namespace

std::optional<double> Metrics::closure_rate() const { return ratio(closed + dismissed, reported); }
std::optional<double> Metrics::solve_rate() const { return ratio(closed_solved, reported - dismissed); }
std::optional<double> Metrics::on_time_rate() const { return ratio(handled_on_time, handled_total + overdue); }
std::optional<double> Metrics::satisfaction_rate() const { return ratio(ratings_satisfied, ratings); }
std::optional<double> Metrics::reopen_rate() const { return ratio(reopened, rated); }
std::optional<double> Metrics::in_grid_rate() const { return ratio(closed_in_grid, closed); }

Metrics compute_metrics(const Model& model, std::string_view root, const Period& period, Instant now) {
    const StatsIndex& stats = model.stats();
    Metrics m;
    static_cast<Tally&>(m) = stats.tally(root, period);
    stats.for_each_overdue(root, period, now, [&m](const Case& c) {
        ++m.overdue;
        ++m.overdue_by_rung[static_cast<std::size_t>(c.rung)];
    });
    if (auto ms = stats.median_handle_ms(root, period)) m.median_handle_hours = *ms / 3'600'000.0;
    std::tie(m.members, m.lost_contact) = stats.residents(root, now - model.config().lost_contact_after.calendar());
    return m;
}

namespace {

void append_int(std::string& out, std::int64_t n) {
    char buf[24];
    out.append(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, n).ptr - buf));
}

// A rate as to_json writes it: null, or the double as nlohmann formats it (shortest round trip,
// with ".0" on whole numbers), through its own serializer so that the text cannot drift.
void append_rate(std::string& out, std::optional<double> r) {
    if (!r) out += "null";
    else events::put_json_number(out, *r);
}

// A date of the years 0..9999 as format_date writes it, quoted, without its snprintf (a series has
// up to 366): the 12 characters at `at`, and the end. Other years: nullptr, nothing written.
char* put_date(char* at, std::chrono::local_days d) {
    const std::chrono::year_month_day ymd{d};
    const int y = static_cast<int>(ymd.year());
    if (y < 0 || y > 9999) return nullptr;
    const auto m = static_cast<unsigned>(ymd.month()), day = static_cast<unsigned>(ymd.day());
    const char text[] = {'"',
                         static_cast<char>('0' + y / 1000),
                         static_cast<char>('0' + y / 100 % 10),
                         static_cast<char>('0' + y / 10 % 10),
                         static_cast<char>('0' + y % 10),
                         '-',
                         static_cast<char>('0' + m / 10),
                         static_cast<char>('0' + m % 10),
                         '-',
                         static_cast<char>('0' + day / 10),
                         static_cast<char>('0' + day % 10),
                         '"'};
    return std::copy(std::begin(text), std::end(text), at);
}

// The top categories: by count, most first, ties in name order; at most 10.
std::vector<std::pair<std::string_view, std::int64_t>> top_categories(const Metrics& m) {
    std::vector<std::pair<std::string_view, std::int64_t>> cats(m.categories.begin(), m.categories.end());
    std::stable_sort(cats.begin(), cats.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (cats.size() > 10) cats.resize(10);
    return cats;
}

// The rungs by name, as a JSON object orders its keys.
const std::array<std::size_t, rung_count>& rungs_by_name() {
    static const auto order = [] {
        std::array<std::size_t, rung_count> o{};
        for (std::size_t r = 0; r < rung_count; ++r) o[r] = r;
        std::sort(o.begin(), o.end(), [](std::size_t a, std::size_t b) { return enum_names<Rung>::v[a] < enum_names<Rung>::v[b]; });
        return o;
    }();
    return order;
}

using MemberWriter = void (*)(std::string&, const Metrics&);
struct MetricMember {
    std::string_view key;
    MemberWriter write;
};

// The members of to_json(Metrics), in key order (checked at compile time below); the tests compare
// the text with the DOM's dump, so a member added to one and not the other is caught.
constexpr MetricMember metric_members[] = {
    {"closed", [](std::string& o, const Metrics& m) { append_int(o, m.closed); }},
    {"closure_rate", [](std::string& o, const Metrics& m) { append_rate(o, m.closure_rate()); }},
    {"dismissed", [](std::string& o, const Metrics& m) { append_int(o, m.dismissed); }},
    {"fed_back", [](std::string& o, const Metrics& m) { append_int(o, m.fed_back); }},
    {"handled", [](std::string& o, const Metrics& m) { append_int(o, m.handled); }},
    {"in_grid_rate", [](std::string& o, const Metrics& m) { append_rate(o, m.in_grid_rate()); }},
    {"lost_contact", [](std::string& o, const Metrics& m) { append_int(o, m.lost_contact); }},
    {"median_handle_hours", [](std::string& o, const Metrics& m) { append_rate(o, m.median_handle_hours); }},
    {"members", [](std::string& o, const Metrics& m) { append_int(o, m.members); }},
    {"on_time_rate", [](std::string& o, const Metrics& m) { append_rate(o, m.on_time_rate()); }},
    {"open", [](std::string& o, const Metrics& m) { append_int(o, m.open); }},
    {"open_by_rung",
     [](std::string& o, const Metrics& m) {
         o += '{';
         bool first = true;
         for (const std::size_t r : rungs_by_name()) {
             if (m.open_by_rung[r] <= 0) continue;
             if (!first) o += ',';
             first = false;
             events::put_json_string(o, enum_names<Rung>::v[r]);
             o += ":{\"open\":";
             append_int(o, m.open_by_rung[r]);
             o += ",\"overdue\":";
             append_int(o, m.overdue_by_rung[r]);
             o += '}';
         }
         o += '}';
     }},
    {"overdue", [](std::string& o, const Metrics& m) { append_int(o, m.overdue); }},
    {"ratings", [](std::string& o, const Metrics& m) { append_int(o, m.ratings); }},
    {"reopen_rate", [](std::string& o, const Metrics& m) { append_rate(o, m.reopen_rate()); }},
    {"reported", [](std::string& o, const Metrics& m) { append_int(o, m.reported); }},
    {"returns",
     [](std::string& o, const Metrics& m) {
         o += '{';
         for (const auto& [dept, n] : m.returns) {
             if (o.back() != '{') o += ',';
             events::put_json_string(o, dept);
             o += ':';
             append_int(o, n);
         }
         o += '}';
     }},
    {"satisfaction_rate", [](std::string& o, const Metrics& m) { append_rate(o, m.satisfaction_rate()); }},
    {"solve_rate", [](std::string& o, const Metrics& m) { append_rate(o, m.solve_rate()); }},
    {"timed_out", [](std::string& o, const Metrics& m) { append_int(o, m.timed_out); }},
    {"top_categories",
     [](std::string& o, const Metrics& m) {
         o += '[';
         for (const auto& [name, n] : top_categories(m)) {
             if (o.back() != '[') o += ',';
             o += "{\"category\":";
             events::put_json_string(o, name);
             o += ",\"count\":";
             append_int(o, n);
             o += '}';
         }
         o += ']';
     }},
};
static_assert(std::is_sorted(std::begin(metric_members), std::end(metric_members),
                             [](const MetricMember& a, const MetricMember& b) { return a.key < b.key; }));
// Written without escaping: every key is lowercase letters and underscores.
static_assert(std::all_of(std::begin(metric_members), std::end(metric_members), [](const MetricMember& mm) {
    return std::all_of(mm.key.begin(), mm.key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}));

} // namespace

void write_json(std::string& out, const Metrics& m, std::span<const JsonMember> extra) {
    out += '{';
    const auto member = [&](std::string_view key, bool plain) {
        if (out.back() != '{') out += ',';
        if (plain) out.append("\"").append(key).append("\"");
        else events::put_json_string(out, key);
        out += ':';
    };
    auto x = extra.begin();
    for (const auto& mm : metric_members) {
        for (; x != extra.end() && x->key < mm.key; ++x) member(x->key, false), out += x->value;
        member(mm.key, true);
        mm.write(out, m);
    }
    for (; x != extra.end(); ++x) member(x->key, false), out += x->value;
    out += '}';
}

void write_json(std::string& out, const std::vector<DailyPoint>& series) {
    out.reserve(out.size() + 2 + series.size() * 72);
    out += '[';
    std::string odd_date; // a date beyond the years 0..9999, as format_date writes it
    for (const auto& p : series) {
        char date_text[12];
        std::string_view date;
        if (const char* end = put_date(date_text, p.day)) {
            date = std::string_view(date_text, static_cast<std::size_t>(end - date_text));
        } else {
            odd_date.clear();
            events::put_json_string(odd_date, format_date(p.day));
            date = odd_date;
        }
        // {"closed":N,"date":D,"overdue":N,"reported":N}, written in place: the keys and braces (47
        // bytes with the comma), three numbers of at most 20 characters each, and the date.
        const bool first = out.back() == '[';
        const std::size_t start = out.size();
        out.resize(start + 47 + 3 * 20 + date.size());
        char* at = out.data() + start;
        const auto put = [&](std::string_view s) { at = std::copy(s.begin(), s.end(), at); };
        const auto number = [&](std::int64_t n) { at = std::to_chars(at, at + 20, n).ptr; };
        put(first ? "{\"closed\":" : ",{\"closed\":");
        number(p.closed);
        put(",\"date\":");
        put(date);
        put(",\"overdue\":");
        number(p.overdue);
        put(",\"reported\":");
        number(p.reported);
        *at++ = '}';
        out.resize(static_cast<std::size_t>(at - out.data()));
    }
    out += ']';
}

nlohmann::json to_json(const Metrics& m) {
    auto open_by_rung = nlohmann::json::object();
    for (std::size_t r = 0; r < rung_count; ++r)
        if (m.open_by_rung[r] > 0) open_by_rung[std::string(enum_names<Rung>::v[r])] = {{"open", m.open_by_rung[r]}, {"overdue", m.overdue_by_rung[r]}};
    auto top = nlohmann::json::array();
    for (const auto& [name, n] : top_categories(m)) top.push_back({{"category", name}, {"count", n}});
    return {
        {"reported", m.reported},
        {"open", m.open},
        {"handled", m.handled},
        {"fed_back", m.fed_back},
        {"closed", m.closed},
        {"dismissed", m.dismissed},
        {"overdue", m.overdue},
        {"ratings", m.ratings},
        {"timed_out", m.timed_out},
        {"closure_rate", rate(m.closure_rate())},
        {"solve_rate", rate(m.solve_rate())},
        {"on_time_rate", rate(m.on_time_rate())},
        {"satisfaction_rate", rate(m.satisfaction_rate())},
        {"reopen_rate", rate(m.reopen_rate())},
        {"in_grid_rate", rate(m.in_grid_rate())},
        {"median_handle_hours", rate(m.median_handle_hours)},
        {"returns", m.returns},
        {"members", m.members},
        {"lost_contact", m.lost_contact},
        {"open_by_rung", open_by_rung},
        {"top_categories", top},
    };
}

std::pair<std::chrono::local_days, std::chrono::local_days> series_days(const Period& period, Instant now, const Calendar& calendar) {
    using std::chrono::days;
    const auto last = period.to ? calendar.local_day(*period.to - std::chrono::milliseconds(1)) : calendar.local_day(now);
    auto first = period.from ? calendar.local_day(*period.from) : last - days(29);
    if (last - first >= days(366)) first = last - days(365);
    return {first, last};
}

std::vector<DailyPoint> daily_series(const Model& model, std::string_view root, std::chrono::local_days first,
                                     std::chrono::local_days last, Instant now) {
    return model.stats().daily(root, first, last, now, model.config().calendar);
}

nlohmann::json to_json(const std::vector<DailyPoint>& series) {
    auto j = nlohmann::json::array();
    for (const auto& p : series)
        j.push_back({{"date", format_date(p.day)}, {"reported", p.reported}, {"closed", p.closed}, {"overdue", p.overdue}});
    return j;
}

} // namespace gridloop::projections

// Open311 GeoReport v2: discovery, services and service requests over the read model, the log and
// the engine's write path. Responses are built once as ordered JSON and written as JSON or, with
// Boost.PropertyTree, as XML.
#include "http/open311.hpp"

#include "engine/engine.hpp"
#include "http/access.hpp"
#include "http/api.hpp"
#include "projections/model.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

namespace gridloop::http {
namespace {

namespace pt = boost::property_tree;
using events::errc;
using events::Error;
using events::Instant;
using nlohmann::ordered_json; // keeps the spec's field order, in JSON and in XML
using projections::Model;
using Pairs = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view base_path = "/open311/v2";
constexpr std::string_view specification = "http://wiki.open311.org/GeoReport_v2";
constexpr std::size_t max_description = 4000; // characters, as the spec counts them
constexpr std::size_t max_requests = 1000;     // the spec's default query limit...
constexpr std::chrono::days max_span{90};      // ...and its span, the most a query may cover
constexpr std::size_t max_media_url = 2000;    // bytes, as the log keeps media

enum class Format { json, xml };

Error forbidden(std::string m) { return {errc::forbidden, std::move(m)}; }
std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The spec's statuses: 404 for what does not exist, 403 for a missing, invalid or insufficient
// api_key, 400 for every other refusal; 503 when the log cannot be read or written (try later).
int status_for(errc code) {
    switch (code) {
    case errc::unauthorized:
    case errc::forbidden: return 403;
    case errc::not_found: return 404;
    case errc::unavailable: return 503;
    default: return 400;
    }
}

// ---------------------------------------------------------------- UTF-8 and XML text

// The code point starting at s[i], advancing i past it; nothing for an ill-formed sequence
// (overlong, surrogate, out of range, truncated), i then past its first byte.
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
    const auto lead = static_cast<unsigned char>(s[i++]);
    if (lead < 0x80) return lead;
    const std::size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
    if (len == 0 || lead > 0xF4 || i + len - 1 > s.size()) return std::nullopt;
    char32_t cp = lead & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k - 1]);
        if ((c & 0xC0) != 0x80) return std::nullopt;
        cp = cp << 6 | (c & 0x3F);
    }
    static constexpr char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    i += len - 1;
    return cp;
}

bool control(char32_t c) { return c < 0x20 || c == 0x7F; }

// Characters in well-formed UTF-8 text without control characters (tab, newline and carriage
// return allowed when `lines`); nothing otherwise.
std::optional<std::size_t> text_length(std::string_view s, bool lines) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size(); ++n) {
        const auto c = next_code_point(s, i);
        if (!c || (control(*c) && !(lines && (*c == '\t' || *c == '\n' || *c == '\r')))) return std::nullopt;
    }
    return n;
}

// Text XML 1.0 can carry: ill-formed UTF-8 and characters XML forbids become U+FFFD (the writer
// escapes markup).
std::string xml_safe(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t start = i;
        const auto c = next_code_point(s, i);
        const bool allowed = c && (*c >= 0x20 || *c == '\t' || *c == '\n' || *c == '\r') && *c != 0xFFFE && *c != 0xFFFF;
        if (allowed) out.append(s.substr(start, i - start));
        else out += "\xEF\xBF\xBD";
    }
    return out;
}

// ---------------------------------------------------------------- rendering

// The XML element of each item of a list, as in the spec's examples.
std::string item_name(std::string_view list) {
    static constexpr std::pair<std::string_view, std::string_view> names[] = {
        {"services", "service"}, {"service_requests", "request"}, {"errors", "error"},  {"attributes", "attribute"},
        {"values", "value"},     {"endpoints", "endpoint"},       {"formats", "format"},
    };
    for (const auto& [plural, singular] : names)
        if (plural == list) return std::string(singular);
    return "item";
}

void add_xml(pt::ptree& parent, const std::string& name, const ordered_json& v) {
    pt::ptree node;
    if (v.is_array()) {
        const std::string item = item_name(name);
        for (const auto& x : v) add_xml(node, item, x);
    } else if (v.is_object()) {
        for (const auto& [key, x] : v.items()) add_xml(node, key, x);
    } else if (v.is_string()) {
        node.data() = xml_safe(v.get_ref<const std::string&>());
    } else if (v.is_boolean()) {
        node.data() = v.get<bool>() ? "true" : "false";
    } else if (!v.is_null()) {
        node.data() = v.dump(); // a number; null stays an empty element, as in the spec's examples
    }
    parent.push_back(pt::ptree::value_type(name, std::move(node)));
}

// One document in the format asked for: JSON as built; XML under `root`, with a list's items
// named after it (<services><service>…).
Response render(Format f, int status, const std::string& root, const ordered_json& doc) {
    Response r;
    r.status = status;
    if (f == Format::json) {
        r.content_type = "application/json; charset=utf-8";
        r.body = doc.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
        return r;
    }
    pt::ptree tree;
    add_xml(tree, root, doc);
    std::ostringstream out;
    pt::write_xml(out, tree, pt::xml_writer_make_settings<std::string>(' ', 0));
    r.content_type = "text/xml; charset=utf-8";
    r.body = std::move(out).str();
    return r;
}

Response failure(Format f, const Error& e) {
    const int code = status_for(e.code);
    ordered_json error;
    error["code"] = code;
    error["description"] = e.message;
    ordered_json errors = ordered_json::array();
    errors.push_back(std::move(error));
    Response r = render(f, code, "errors", errors);
    if (code == 503) r.headers.emplace_back("Retry-After", retry_after_503);
    return r;
}

template <class T> ordered_json or_null(const std::optional<T>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); }
ordered_json time_or_null(const std::optional<Instant>& t) { return t ? ordered_json(events::format_time(*t)) : ordered_json(nullptr); }

// ---------------------------------------------------------------- parameters

// A query string's or form body's pairs, decoded as the rest of the API decodes them ('+' is a
// space); malformed percent-encoding is refused.
events::Result<Pairs> decode_pairs(std::string_view text, const char* where) {
    Pairs out;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const std::string_view piece = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        auto pair = parse_query(piece); // one pair at most, so that repeated keys stay visible
        if (!pair) return events::bad_request(std::string(where) + " has a malformed percent-encoding");
        for (auto& kv : *pair) out.emplace_back(kv.first, std::move(kv.second));
    }
    return out;
}

// Parameters by name. A key may appear once, except the lists named (joined with commas); every
// key and value is UTF-8 text; an empty value counts as absent, as the spec's "optional" says.
class Params {
public:
    static events::Result<Params> of(const Pairs& pairs, std::initializer_list<std::string_view> lists = {}) {
        Params p;
        for (const auto& [key, value] : pairs) {
            if (!text_length(key, false)) return events::bad_request("a parameter name is not UTF-8 text");
            if (!text_length(value, true)) return events::bad_request(key + " is not UTF-8 text (or holds control characters)");
            auto [it, fresh] = p.values_.try_emplace(key, value);
            if (fresh) continue;
            if (std::find(lists.begin(), lists.end(), key) == lists.end()) return events::bad_request(key + " is given more than once");
            it->second += "," + value;
        }
        return p;
    }
    std::optional<std::string> get(std::string_view key) const {
        auto it = values_.find(key);
        if (it == values_.end() || it->second.empty()) return std::nullopt;
        return it->second;
    }
    // A comma-separated list, empty items dropped.
    std::vector<std::string> list(std::string_view key) const {
        std::vector<std::string> out;
        std::string_view rest = values_.count(key) ? std::string_view(values_.find(key)->second) : std::string_view{};
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            if (const auto item = rest.substr(0, comma); !item.empty()) out.emplace_back(item);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
        return out;
    }
    const std::map<std::string, std::string, std::less<>>& all() const { return values_; }

private:
    std::map<std::string, std::string, std::less<>> values_;
};

std::optional<double> decimal(const std::string& s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// ---------------------------------------------------------------- the read model

// The grid and its ancestors' names, most specific first: the order the spec wants an address in.
std::vector<std::string> place_names(const Model& m, std::string_view grid_id) {
    std::vector<std::string> names;
    for (const projections::Grid* g = m.grid(grid_id); g; g = g->parent_id ? m.grid(*g->parent_id) : nullptr) names.push_back(g->name);
    return names;
}

std::string address_of(const Model& m, std::string_view grid_id) {
    std::string out;
    for (const auto& name : place_names(m, grid_id)) out += (out.empty() ? "" : ", ") + name;
    return out;
}

// The micro-grid an address_string names: its parts, separated by commas (',' or '，'), are the
// names of a micro-grid and of its ancestors, most specific first; as many parts as it takes to
// tell it apart ("一号楼" or "一号楼, 第一网格"). The `address` of a request is such a string.
events::Result<std::string> locate(const Model& m, std::string_view address) {
    std::vector<std::string> parts;
    std::string part;
    auto flush = [&] {
        const auto first = part.find_first_not_of(" \t"), last = part.find_last_not_of(" \t");
        if (first != std::string::npos) parts.push_back(part.substr(first, last - first + 1));
        part.clear();
    };
    for (std::size_t i = 0; i < address.size(); ++i) {
        if (address[i] == ',') {
            flush();
        } else if (address.substr(i, 3) == "\xEF\xBC\x8C") { // '，'
            flush();
            i += 2;
        } else {
            part += address[i];
        }
    }
    flush();
    if (parts.empty()) return events::bad_request("address_string names no place");
    std::vector<std::string> found;
    for (const auto& [id, g] : m.grids()) {
        if (g.level != events::Level::micro) continue;
        const auto names = place_names(m, id);
        if (parts.size() <= names.size() && std::equal(parts.begin(), parts.end(), names.begin())) found.push_back(id);
    }
    if (found.size() == 1) return found.front();
    if (found.empty())
        return events::bad_request("address_string " + in_quotes(address) +
                                   " names no micro-grid: give the micro-grid's name, then its parents' names, separated by commas; or "
                                   "lat and long, or address_id (a micro-grid id)");
    std::string some;
    for (std::size_t i = 0; i < found.size() && i < 5; ++i) some += (i ? ", " : "") + found[i];
    return events::bad_request("address_string " + in_quotes(address) + " fits " + std::to_string(found.size()) + " micro-grids (" + some +
                               (found.size() > 5 ? ", …" : "") + "): add the parent grids' names, or give address_id");
}

// Our services are the categories of the log's cases: no event defines a catalogue, and a
// category is an open id (contract: IssueReported.category), so a category becomes a service once
// a case has been reported in it. Each maps to when that first happened (the discovery changeset).
// The model keeps them as it folds: these answer without a token, and never walk the cases.
const auto& catalogue(const Model& m) { return m.categories(); }

bool offers(const Model& m, std::string_view code) { return m.categories().contains(code); }

// jurisdiction_id, when given, names a town (a root of the grid tree); one server may hold several.
events::Result<std::optional<std::string>> jurisdiction(const Model& m, const Params& p) {
    const auto j = p.get("jurisdiction_id");
    if (!j) return std::optional<std::string>();
    if (const auto* g = m.grid(*j); g && !g->parent_id) return j;
    std::string towns;
    for (const auto& id : m.roots()) towns += (towns.empty() ? "" : ", ") + id;
    return events::not_found("jurisdiction_id " + in_quotes(*j) + " not found (the jurisdictions are the towns: " + towns + ")");
}

// What a request shows from the read model, copied out under its lock.
struct Summary {
    std::string case_id, category, grid_id, address;
    bool closed = false;
    std::optional<std::string> agency;
    std::optional<Instant> expected;
    Instant requested{}, updated{};
};

Summary summary_of(const Model& m, const projections::Case& c) {
    using events::CaseState;
    Summary s;
    s.case_id = c.case_id;
    s.category = c.category;
    s.grid_id = c.grid_id;
    s.address = address_of(m, c.grid_id);
    s.closed = c.state == CaseState::closed || c.state == CaseState::dismissed;
    if (const auto* d = c.dept_id ? m.department(*c.dept_id) : nullptr) s.agency = d->name;
    if (c.state == CaseState::open) s.expected = c.due_at;
    s.requested = c.reported_at;
    s.updated = c.timeline.empty() ? c.reported_at : c.timeline.back().recorded_at;
    return s;
}

// What only the log holds: the report's words, place and media, and the latest word on the case.
struct Details {
    std::optional<std::string> description, media_url, status_notes;
    std::optional<events::Location> location;
};

Details details_of(const engine::StoreReader& log, const std::string& case_id, std::int64_t up_to) {
    Details d;
    for (const auto& raw : log.stream("case-" + case_id, up_to)) {
        const auto env = events::from_raw(raw);
        if (!env) continue;
        const auto& e = env->event;
        if (const auto* r = std::get_if<events::IssueReported>(&e)) {
            d.description = r->description;
            d.location = r->location;
            if (r->media && !r->media->empty()) d.media_url = r->media->front();
        } else if (const auto* h = std::get_if<events::IssueHandled>(&e)) {
            d.status_notes = h->result;
        } else if (const auto* f = std::get_if<events::FeedbackGiven>(&e)) {
            d.status_notes = f->content;
        } else if (const auto* x = std::get_if<events::IssueDismissed>(&e)) {
            d.status_notes = "dismissed (" + std::string(events::to_string(x->reason)) + ")" + (x->note ? ": " + *x->note : "");
        }
    }
    return d;
}

// One request as the spec shows it. Without details (a dashboard's view) nothing personal or typed
// by a person: no description, notes, media or coordinates.
ordered_json request_json(const Summary& s, const Details* d) {
    const events::Location* location = d && d->location ? &*d->location : nullptr;
    ordered_json r;
    r["service_request_id"] = s.case_id;
    r["status"] = s.closed ? "closed" : "open";
    r["status_notes"] = d ? or_null(d->status_notes) : ordered_json(nullptr);
    r["service_name"] = s.category;
    r["service_code"] = s.category;
    r["description"] = d ? or_null(d->description) : ordered_json(nullptr);
    r["agency_responsible"] = or_null(s.agency);
    r["service_notice"] = nullptr;
    r["requested_datetime"] = events::format_time(s.requested);
    r["updated_datetime"] = events::format_time(s.updated);
    r["expected_datetime"] = time_or_null(s.expected);
    r["address"] = s.address;
    r["address_id"] = s.grid_id;
    r["zipcode"] = nullptr;
    r["lat"] = location ? ordered_json(location->lat) : ordered_json(nullptr);
    r["long"] = location ? ordered_json(location->lng) : ordered_json(nullptr);
    r["media_url"] = d ? or_null(d->media_url) : ordered_json(nullptr);
    return r;
}

ordered_json service_json(const std::string& code) {
    ordered_json s;
    s["service_code"] = code;
    s["service_name"] = code; // the log names categories by code only
    s["description"] = nullptr;
    s["metadata"] = true; // one optional attribute: severity
    s["type"] = "realtime";
    s["keywords"] = nullptr;
    s["group"] = nullptr;
    return s;
}

// The attributes a service takes: IssueReported's optional severity, the same for every category.
ordered_json definition_json(const std::string& code) {
    ordered_json values = ordered_json::array();
    for (const auto name : events::enum_names<events::Severity>::v) {
        ordered_json v;
        v["key"] = name;
        v["name"] = name;
        values.push_back(std::move(v));
    }
    ordered_json severity;
    severity["variable"] = true;
    severity["code"] = "severity";
    severity["datatype"] = "singlevaluelist";
    severity["required"] = false;
    severity["datatype_description"] = nullptr;
    severity["order"] = 1;
    severity["description"] = "How serious it is (default normal); the town's policy may start urgent and major cases higher up the ladder";
    severity["values"] = std::move(values);
    ordered_json d;
    d["service_code"] = code;
    d["attributes"] = ordered_json::array();
    d["attributes"].push_back(std::move(severity));
    return d;
}

// A new case id: "o311-" and 64 random bits. A clash would be refused by decide, never overwrite.
std::optional<std::string> new_case_id() {
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return std::nullopt;
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "o311-";
    for (unsigned char b : bytes) id += {hex[b >> 4], hex[b & 15]};
    return id;
}

// The form fields of a new request that the log can hold. email, first_name, last_name, phone,
// device_id and account_id are accepted and dropped: IssueReported has no field for them (its
// `reporter` is an id-like handle, not a person's contact), and the append-only log can never
// forget personal data once written.
const std::set<std::string, std::less<>> form_fields{"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
                                                     "address_id", "email", "device_id", "account_id", "first_name", "last_name",
                                                     "phone", "description", "media_url"};

struct Report {
    std::string service_code;
    std::optional<std::string> description, media_url, address_id, address_string;
    std::optional<events::Location> location;
    std::optional<events::Severity> severity;
};

events::Result<Report> read_report(const Params& p) {
    Report r;
    for (const auto& [key, value] : p.all()) {
        if (form_fields.count(key)) continue;
        if (key.rfind("attribute[", 0) != 0 || key.back() != ']')
            return events::bad_request("unknown parameter " + key + " (the spec's fields and attribute[code] are accepted)");
        const std::string code = key.substr(10, key.size() - 11);
        if (code != "severity") return events::bad_request(key + ": the services take one attribute, severity");
        if (value.empty()) continue;
        if (!(r.severity = events::parse_enum<events::Severity>(value)))
            return events::bad_request("attribute[severity] must be one of " + events::enum_choices<events::Severity>());
    }
    const auto code = p.get("service_code");
    if (!code) return events::bad_request("service_code is required");
    r.service_code = *code;
    if ((r.description = p.get("description")) && *text_length(*r.description, true) > max_description)
        return events::bad_request("description is longer than 4,000 characters");
    if ((r.media_url = p.get("media_url"))) {
        const std::string scheme = lower(r.media_url->substr(0, r.media_url->find(':') + 1));
        if ((scheme != "http:" && scheme != "https:") || r.media_url->find_first_of(" \t\r\n") != std::string::npos ||
            r.media_url->size() > max_media_url)
            return events::bad_request("media_url must be an http or https URL of at most 2000 bytes");
    }
    const auto lat = p.get("lat"), lng = p.get("long");
    if (lat || lng) {
        if (!lat || !lng) return events::bad_request("lat and long go together");
        const auto y = decimal(*lat), x = decimal(*lng);
        if (!y || !x || *y < -90 || *y > 90 || *x < -180 || *x > 180)
            return events::bad_request("lat and long must be WGS84 decimal degrees (lat in [-90, 90], long in [-180, 180])");
        r.location = events::Location{*y, *x};
    }
    r.address_id = p.get("address_id");
    r.address_string = p.get("address_string");
    if (!r.location && !r.address_id && !r.address_string)
        return events::bad_request("a location is required: lat and long, address_string or address_id");
    return r;
}

std::string number_text(double v) { return ordered_json(v).dump(); }

// The micro-grid a report is for: lat and long are routed as the engine routes them (the engine
// routes again when it decides, and records what it found); else address_id, else address_string.
events::Result<std::string> place_of(const Model& m, const Report& r) {
    if (r.location) {
        const double lat = r.location->lat, lng = r.location->lng;
        if (auto found = m.route(lat, lng)) return *found;
        std::string msg = "(" + number_text(lat) + ", " + number_text(lng) + ") lies in no micro-grid";
        if (const auto near = m.nearest_micro(lat, lng))
            msg += "; the nearest is " + m.grid(near->grid_id)->name + " (" + near->grid_id + "), " +
                   std::to_string(std::llround(near->metres)) + " m away";
        return events::bad_request(msg + "; give address_id to report it to a micro-grid");
    }
    if (r.address_id) {
        const auto* g = m.grid(*r.address_id);
        if (!g || g->level != events::Level::micro)
            return events::bad_request("address_id " + in_quotes(*r.address_id) + " is not a micro-grid id");
        return g->grid_id;
    }
    return locate(m, *r.address_string);
}

// ---------------------------------------------------------------- one call

class Call {
public:
    Call(engine::Engine& engine, const Authenticator* auth, std::optional<Principal> bearer, const Request& req,
         std::function<void(Response)> done)
        : engine_(engine), auth_(auth), bearer_(std::move(bearer)), req_(req), done_(std::move(done)) {}

    void run() {
        try {
            dispatch();
        } catch (const engine::StoreError& e) {
            finish(failure(format_, {errc::unavailable, std::string("the event log cannot be read: ") + e.what()}));
        }
    }

private:
    engine::Engine& engine_;
    const Authenticator* auth_;
    std::optional<Principal> bearer_;
    const Request& req_;
    std::function<void(Response)> done_;
    Format format_ = Format::json;
    std::string subject_; // for the access log, once a caller is known

    void finish(Response r) {
        r.subject = subject_;
        done_(std::move(r));
    }
    void refuse(const Error& e) { finish(failure(format_, e)); }

    void dispatch() {
        // <resource>.<format> or <resource>/<id>.<format>; the router's table lets only ours through.
        const auto qpos = req_.target.find('?');
        std::string_view rest = std::string_view(req_.target).substr(0, qpos);
        if (!rest.starts_with(std::string(base_path) + "/")) return refuse(events::not_found("not an Open311 path"));
        rest.remove_prefix(base_path.size() + 1);
        const auto slash = rest.find('/');
        const std::string resource(rest.substr(0, slash == std::string_view::npos ? rest.find('.') : slash));
        const std::string_view file = slash == std::string_view::npos ? rest : rest.substr(slash + 1);
        const auto dot = file.rfind('.');
        const std::string name(file.substr(0, dot)), ext(dot == std::string_view::npos ? "" : file.substr(dot + 1));
        if (ext == "xml") format_ = Format::xml;
        else if (ext != "json") return refuse(events::not_found("no resource " + in_quotes(file) + ": name it with .json or .xml"));

        const bool list_query = resource == "requests" && slash == std::string_view::npos && req_.method != "POST";
        const std::string_view query_text = qpos == std::string::npos ? std::string_view{} : std::string_view(req_.target).substr(qpos + 1);
        auto query = decode_pairs(query_text, "the query string");
        if (!query) return refuse(query.error());
        // Access logs record URLs: a token travels in the POST form body or the Authorization header.
        if (std::any_of(query->begin(), query->end(), [](const auto& kv) { return kv.first == "api_key"; }))
            return refuse(forbidden("api_key must not be sent in the URL, which access logs record: send it in the POST form body, "
                                    "or as Authorization: Bearer"));
        if (req_.method == "POST") return create(std::move(*query));
        auto params = list_query ? Params::of(*query, {"service_request_id", "service_code", "status"}) : Params::of(*query);
        if (!params) return refuse(params.error());
        if (resource == "discovery") return discovery();
        if (resource == "services") return slash == std::string_view::npos ? services(*params) : definition(*params, name);
        if (list_query) return list(*params);
        return one(*params, name);
    }

    // The caller: a valid api_key (POST form), else the Authorization header's token; 403 otherwise, as the spec says.
    events::Result<Principal> caller(const Params& p) {
        std::optional<Principal> who;
        if (const auto key = p.get("api_key")) {
            if (!auth_ || !(who = auth_->find(*key))) return forbidden("api_key is not valid");
        } else if (!(who = bearer_)) {
            return forbidden(req_.header("authorization").empty()
                                 ? "api_key is required: a gridloop token, in the POST form body or as Authorization: Bearer"
                                 : "the Authorization bearer token is not valid");
        }
        subject_ = who->subject;
        return *who;
    }

    template <class F> void respond(F&& f) {
        Response r = engine_.read(std::forward<F>(f));
        finish(std::move(r));
    }

    // ------------------------------------------------ discovery and services

    std::string endpoint_url() const {
        const std::string host = req_.header("host");
        const bool plain = !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        });
        if (!plain) return std::string(base_path);
        return (lower(req_.header("x-forwarded-proto")) == "https" ? "https://" : "http://") + host + std::string(base_path);
    }

    void discovery() {
        respond([&](const Model& m) {
            Instant changed = m.recorded_at();
            if (const auto& all = catalogue(m); !all.empty())
                changed = std::max_element(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second < b.second; })->second;
            const std::string changeset = events::format_time(changed);
            ordered_json endpoint;
            endpoint["specification"] = specification;
            endpoint["url"] = endpoint_url();
            endpoint["changeset"] = changeset;
            endpoint["type"] = "production";
            endpoint["formats"] = ordered_json::array({"text/xml", "application/json"});
            ordered_json d;
            d["changeset"] = changeset;
            d["contact"] = "The town's gridloop administrators. This endpoint is described in gridloop's docs/open311.md; the rest of "
                           "the API at /openapi.json.";
            d["key_service"] = "An api_key is a gridloop token (a worker's or a grid head's, scoped to their grids); the town's "
                               "gridloop administrator issues them.";
            d["endpoints"] = ordered_json::array();
            d["endpoints"].push_back(std::move(endpoint));
            return render(format_, 200, "discovery", d);
        });
    }

    void services(const Params& p) {
        respond([&](const Model& m) {
            if (auto j = jurisdiction(m, p); !j) return failure(format_, j.error());
            ordered_json list = ordered_json::array();
            for (const auto& [code, first] : catalogue(m)) list.push_back(service_json(code));
            return render(format_, 200, "services", list);
        });
    }

    void definition(const Params& p, const std::string& code) {
        respond([&](const Model& m) {
            if (auto j = jurisdiction(m, p); !j) return failure(format_, j.error());
            if (!offers(m, code)) return failure(format_, events::not_found("service_code " + in_quotes(code) + " not found"));
            return render(format_, 200, "service_definition", definition_json(code));
        });
    }

    // ------------------------------------------------ reading requests

    // Rows copied from the model at one position, then completed from the log up to it.
    struct Snapshot {
        std::int64_t position = 0;
        std::vector<Summary> rows;
    };

    void answer_rows(const Principal& who, events::Result<Snapshot> snap) {
        if (!snap) return refuse(snap.error());
        // The same rule as the /v1 views: a dashboard gets no personal data and no free text.
        const bool personal = who.role != Role::dashboard;
        ordered_json list = ordered_json::array();
        for (const auto& s : snap->rows) {
            if (!personal) {
                list.push_back(request_json(s, nullptr));
                continue;
            }
            const auto d = details_of(engine::StoreReader::for_this_thread(engine_.path()), s.case_id, snap->position);
            list.push_back(request_json(s, &d));
        }
        finish(render(format_, 200, "service_requests", list));
    }

    void one(const Params& p, const std::string& id) {
        auto who = caller(p);
        if (!who) return refuse(who.error());
        answer_rows(*who, engine_.read([&](const Model& m) -> events::Result<Snapshot> {
            if (auto j = jurisdiction(m, p); !j) return j.error();
            const auto* k = m.find_case(id);
            // As for /v1/cases/{id}: to a scoped caller a missing request and one outside the scope look alike.
            if (!k || !sees_case(*who, m, *k)) {
                if (sees_everything(*who) && !k) return events::not_found("service_request_id " + in_quotes(id) + " not found");
                return forbidden("service request " + in_quotes(id) + " is not within your scope (" + std::string(to_string(who->role)) +
                                 ")");
            }
            return Snapshot{m.position(), {summary_of(m, *k)}};
        }));
    }

    void list(const Params& p) {
        auto who = caller(p);
        if (!who) return refuse(who.error());
        const auto ids = p.list("service_request_id"), codes = p.list("service_code"), statuses = p.list("status");
        if (ids.size() > max_requests) return refuse(events::bad_request("at most 1000 service_request_id at once"));
        for (const auto& s : statuses)
            if (s != "open" && s != "closed") return refuse(events::bad_request("status must be open or closed (comma-separated)"));
        std::optional<Instant> from, to;
        for (auto [key, out] : {std::pair{"start_date", &from}, std::pair{"end_date", &to}})
            if (const auto v = p.get(key); v && !(*out = events::parse_time(*v)))
                return refuse(events::bad_request(std::string(key) +
                                                  " must be a W3C date-time with a zone, e.g. 2026-11-16T09:00:00+08:00 (encode + as %2B)"));
        if (from && to && *to < *from) return refuse(events::bad_request("end_date is before start_date"));
        if (from && to && *to - *from > max_span) return refuse(events::bad_request("start_date and end_date may span at most 90 days"));
        auto wanted = [](const std::vector<std::string>& set, const std::string& v) {
            return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
        };
        answer_rows(*who, engine_.read([&](const Model& m) -> events::Result<Snapshot> {
            const auto town = jurisdiction(m, p);
            if (!town) return town.error();
            // The window: as asked, else 90 days from the bound given, else the most recent 90 days.
            const Instant now = std::max(engine_.clock().now(), m.recorded_at());
            const Instant last = to ? *to : from ? *from + max_span : now, first = from ? *from : last - max_span;
            std::vector<const projections::Case*> picked;
            if (!ids.empty()) {
                // "This overrides all other arguments": only the ids, and what the caller may see.
                for (const auto& id : std::set<std::string>(ids.begin(), ids.end()))
                    if (const auto* k = m.find_case(id); k && sees_case(*who, m, *k)) picked.push_back(k);
            } else {
                // The window of report times, newest first, until the first 1000 are settled: the
                // 1000th and the others reported at its time (ties go by case_id, below).
                const auto& all = m.reported();
                const auto begin = std::partition_point(all.begin(), all.end(), [&](const auto* k) { return k->reported_at < first; });
                const auto end = std::partition_point(begin, all.end(), [&](const auto* k) { return k->reported_at <= last; });
                for (auto it = end; it != begin;) {
                    const auto& k = **--it;
                    if (picked.size() >= max_requests && k.reported_at < picked.back()->reported_at) break;
                    if (!wanted(codes, k.category) || !wanted(statuses, summary_status(k)) || (*town && !m.within(k.grid_id, **town)) ||
                        !sees_case(*who, m, k))
                        continue;
                    picked.push_back(&k);
                }
            }
            // Newest first, and the first 1000 of them.
            std::sort(picked.begin(), picked.end(), [](const auto* a, const auto* b) {
                return a->reported_at != b->reported_at ? a->reported_at > b->reported_at : a->case_id < b->case_id;
            });
            if (picked.size() > max_requests) picked.resize(max_requests);
            Snapshot snap{m.position(), {}};
            for (const auto* k : picked) snap.rows.push_back(summary_of(m, *k));
            return snap;
        }));
    }

    static std::string summary_status(const projections::Case& k) {
        return k.state == events::CaseState::closed || k.state == events::CaseState::dismissed ? "closed" : "open";
    }

    // ------------------------------------------------ creating a request

    void create(Pairs pairs) {
        const std::string type = lower(req_.header("content-type"));
        if (!type.empty() && type.rfind("application/x-www-form-urlencoded", 0) != 0)
            return refuse(events::bad_request("send the request as application/x-www-form-urlencoded (media go by media_url)"));
        auto body = decode_pairs(req_.body, "the form");
        if (!body) return refuse(body.error());
        pairs.insert(pairs.end(), std::make_move_iterator(body->begin()), std::make_move_iterator(body->end()));
        auto params = Params::of(pairs);
        if (!params) return refuse(params.error());
        auto who = caller(*params);
        if (!who) return refuse(who.error());
        auto report = read_report(*params);
        if (!report) return refuse(report.error());
        const auto case_id = new_case_id();
        if (!case_id) return refuse({errc::unavailable, "no random case id could be drawn; try again"});

        // The event, checked against the model as the engine will decide it (the engine decides again).
        auto data = engine_.read([&](const Model& m) -> events::Result<nlohmann::json> {
            const auto town = jurisdiction(m, *params);
            if (!town) return town.error();
            if (!offers(m, report->service_code)) return events::not_found("service_code " + in_quotes(report->service_code) + " not found");
            const auto grid = place_of(m, *report);
            if (!grid) return grid.error();
            if (*town && !m.within(*grid, **town))
                return events::bad_request("the location is in " + *grid + ", outside jurisdiction " + **town);
            nlohmann::json d{{"case_id", *case_id},
                             {"category", report->service_code},
                             {"description", report->description.value_or(report->service_code)},
                             {"source", "resident"}};
            if (report->location) d["location"] = {{"lat", report->location->lat}, {"lng", report->location->lng}};
            else d["grid_id"] = *grid;
            if (report->severity) d["severity"] = events::to_string(*report->severity);
            if (report->media_url) d["media"] = nlohmann::json::array({*report->media_url});
            return d;
        });
        if (!data) return refuse(data.error());
        auto event = events::decode_event("IssueReported", *data);
        if (!event) return refuse(event.error());

        // Appended like any POST /v1/events: the same access rule, decided against the same state.
        auto authorize = [who = *who](const engine::View& state, const events::Event& e) -> std::optional<Error> {
            if (auto rule = forbidden_post(who, state, e)) return forbidden(*rule);
            return std::nullopt;
        };
        events::Posted posted{std::move(*event), std::nullopt, std::nullopt, std::nullopt, std::nullopt};
        engine_.submit(engine::Submission{{std::move(posted)}, who->subject, std::nullopt, std::move(authorize)},
                       [&engine = engine_, format = format_, id = *case_id, subject = subject_,
                        done = std::move(done_)](events::Result<engine::Appended> r) {
                           Response resp = r ? created(engine, format, id) : failure(format, r.error());
                           resp.subject = subject;
                           done(std::move(resp));
                       });
    }

    // The answer to an accepted request (called on the engine's completion thread once the model holds the case).
    static Response created(const engine::Engine& engine, Format format, const std::string& id) {
        ordered_json item;
        item["service_request_id"] = id;
        item["service_notice"] = engine.read([&](const Model& m) -> ordered_json {
            const auto* k = m.find_case(id);
            const auto* g = k ? m.grid(k->grid_id) : nullptr;
            if (!g) return nullptr;
            return "Reported to " + g->name + " (" + g->grid_id + "); first response due by " + events::format_time(k->due_at) + ".";
        });
        item["account_id"] = nullptr;
        ordered_json list = ordered_json::array();
        list.push_back(std::move(item));
        Response r = render(format, 200, "service_requests", list);
        r.headers.emplace_back("Location", std::string(base_path) + "/requests/" + id + (format == Format::xml ? ".xml" : ".json"));
        return r;
    }
};

} // namespace

void handle_open311(engine::Engine& engine, const Authenticator* auth, std::optional<Principal> bearer, const Request& req,
                    std::function<void(Response)> done) {
    Call(engine, auth, std::move(bearer), req, std::move(done)).run();
}

} // namespace gridloop::http

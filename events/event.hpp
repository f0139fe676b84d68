// Every event type of the contract as a typed struct, their JSON (strict decode, canonical encode)
// and the stream each belongs to.
#pragma once

#include "events/error.hpp"
#include "events/time.hpp"
#include "events/types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gridloop::events {

using Position2 = std::array<double, 2>; // GeoJSON order: lng, lat
using Ring = std::vector<Position2>;
struct Polygon {
    std::vector<Ring> rings; // outer ring first, then holes
    friend bool operator==(const Polygon&, const Polygon&) = default;
};
struct Location {
    double lat = 0, lng = 0;
    friend bool operator==(const Location&, const Location&) = default;
};

// ---- organisation ----
struct GridDefined {
    static constexpr std::string_view type = "GridDefined";
    std::string grid_id, name;
    Level level = Level::micro;
    std::optional<std::string> parent_id; // null only for a town
    std::optional<Polygon> boundary;
    std::optional<std::string> station;
    friend bool operator==(const GridDefined&, const GridDefined&) = default;
};
struct DepartmentRegistered {
    static constexpr std::string_view type = "DepartmentRegistered";
    std::string dept_id, name;
    DeptKind kind = DeptKind::other;
    std::vector<std::string> serves; // grid ids, each covering its subtree
    friend bool operator==(const DepartmentRegistered&, const DepartmentRegistered&) = default;
};
struct PersonAssigned {
    static constexpr std::string_view type = "PersonAssigned";
    std::string person_id, name;
    PersonRole role = PersonRole::worker;
    std::optional<std::string> grid_id, dept_id; // exactly one
    std::optional<Team> team;
    friend bool operator==(const PersonAssigned&, const PersonAssigned&) = default;
};
struct PolicySet {
    static constexpr std::string_view type = "PolicySet";
    std::map<Rung, Duration> limits;
    std::map<Severity, Rung> start_rung;
    std::optional<double> satisfied_threshold;
    std::optional<std::int64_t> max_returns;
    std::optional<Duration> lost_contact_after;
    std::optional<std::vector<double>> stars; // four non-decreasing score thresholds for 2..5 stars
    friend bool operator==(const PolicySet&, const PolicySet&) = default;
};
struct CalendarSet {
    static constexpr std::string_view type = "CalendarSet";
    std::string timezone;
    std::vector<int> workdays;                        // ISO weekdays 1..7
    std::array<std::string, 2> work_hours;            // "HH:MM", end may be "24:00"
    std::vector<std::string> holidays, makeup_workdays; // "YYYY-MM-DD"
    friend bool operator==(const CalendarSet&, const CalendarSet&) = default;
};

// ---- members ----
struct MemberRegistered {
    static constexpr std::string_view type = "MemberRegistered";
    std::string member_id, name;
    MemberCategory category = MemberCategory::in_service;
    std::string home_branch, residence_grid;
    friend bool operator==(const MemberRegistered&, const MemberRegistered&) = default;
};
struct MemberRelocated {
    static constexpr std::string_view type = "MemberRelocated";
    std::string member_id, to_grid;
    std::optional<std::string> reason;
    friend bool operator==(const MemberRelocated&, const MemberRelocated&) = default;
};
struct MemberReportedIn {
    static constexpr std::string_view type = "MemberReportedIn";
    std::string member_id, grid_id;
    friend bool operator==(const MemberReportedIn&, const MemberReportedIn&) = default;
};
struct MemberContacted {
    static constexpr std::string_view type = "MemberContacted";
    std::string member_id, by, channel;
    friend bool operator==(const MemberContacted&, const MemberContacted&) = default;
};
struct MembershipTransferred {
    static constexpr std::string_view type = "MembershipTransferred";
    std::string member_id, to_branch;
    friend bool operator==(const MembershipTransferred&, const MembershipTransferred&) = default;
};
struct PointsAwarded {
    static constexpr std::string_view type = "PointsAwarded";
    std::string member_id;
    std::int64_t points = 0;
    std::string reason;
    std::optional<std::string> case_id;
    friend bool operator==(const PointsAwarded&, const PointsAwarded&) = default;
};
struct PointsRedeemed {
    static constexpr std::string_view type = "PointsRedeemed";
    std::string member_id;
    std::int64_t points = 0;
    std::string item;
    friend bool operator==(const PointsRedeemed&, const PointsRedeemed&) = default;
};

// ---- the closed loop ----
struct IssueReported {
    static constexpr std::string_view type = "IssueReported";
    std::string case_id, category, description;
    Source source = Source::patrol;
    std::optional<std::string> grid_id; // the engine fills it in when routing by location
    std::optional<Location> location;
    std::optional<Severity> severity;
    std::optional<std::string> reporter;
    std::optional<std::vector<std::string>> media;
    friend bool operator==(const IssueReported&, const IssueReported&) = default;
};
struct IssueDiscussed {
    static constexpr std::string_view type = "IssueDiscussed";
    std::string case_id;
    std::vector<std::string> participants;
    std::optional<std::vector<Team>> teams;
    std::string decision;
    friend bool operator==(const IssueDiscussed&, const IssueDiscussed&) = default;
};
struct IssueEscalated {
    static constexpr std::string_view type = "IssueEscalated";
    std::string case_id;
    Rung to_rung = Rung::micro_head;
    std::optional<std::string> dept_id;
    std::string reason;
    bool automatic = false; // wire name `auto`
    friend bool operator==(const IssueEscalated&, const IssueEscalated&) = default;
};
struct IssueReturned {
    static constexpr std::string_view type = "IssueReturned";
    std::string case_id, dept_id, reason;
    friend bool operator==(const IssueReturned&, const IssueReturned&) = default;
};
struct IssueSupervised {
    static constexpr std::string_view type = "IssueSupervised";
    std::string case_id, by, note;
    friend bool operator==(const IssueSupervised&, const IssueSupervised&) = default;
};
struct IssueHandled {
    static constexpr std::string_view type = "IssueHandled";
    std::string case_id, handler, result;
    std::optional<std::vector<std::string>> volunteers;
    friend bool operator==(const IssueHandled&, const IssueHandled&) = default;
};
struct FeedbackGiven {
    static constexpr std::string_view type = "FeedbackGiven";
    std::string case_id, to, content;
    friend bool operator==(const FeedbackGiven&, const FeedbackGiven&) = default;
};
struct SatisfactionRated {
    static constexpr std::string_view type = "SatisfactionRated";
    std::string case_id;
    Rating rating = Rating::satisfied;
    Solved solved = Solved::unknown;
    std::string rater;
    std::optional<std::string> comment;
    friend bool operator==(const SatisfactionRated&, const SatisfactionRated&) = default;
};
struct IssueDismissed {
    static constexpr std::string_view type = "IssueDismissed";
    std::string case_id;
    DismissReason reason = DismissReason::invalid;
    std::optional<std::string> note;
    friend bool operator==(const IssueDismissed&, const IssueDismissed&) = default;
};

using Event = std::variant<GridDefined, DepartmentRegistered, PersonAssigned, PolicySet, CalendarSet, MemberRegistered,
                           MemberRelocated, MemberReportedIn, MemberContacted, MembershipTransferred, PointsAwarded,
                           PointsRedeemed, IssueReported, IssueDiscussed, IssueEscalated, IssueReturned, IssueSupervised,
                           IssueHandled, FeedbackGiven, SatisfactionRated, IssueDismissed>;

// The names of every event type, in variant order.
std::span<const std::string_view> event_types();

std::string_view type_name(const Event& e);

// The case an event belongs to, if it is a closed-loop event.
const std::string* case_id_of(const Event& e);
// The member an event belongs to, if it is a member event.
const std::string* member_id_of(const Event& e);

// `grid-<id>`, `dept-<id>`, `person-<id>`, `member-<id>`, `case-<id>` or `policy`.
std::string stream_of(const Event& e);

// Strict decoding of an event's `data`: unknown type → unprocessable; a missing field or wrong JSON
// type → bad_request; a bad enum, id, range or an unknown field → unprocessable. Messages name the
// field as `data.<name>`.
Result<Event> decode_event(std::string_view type, const nlohmann::json& data);
// The same decoder on `data` as JSON text, parsed with simdjson instead of into a nlohmann DOM: for
// stored rows, where it is several times faster. Text that is not JSON is refused as "stored data is
// not JSON" (unprocessable). On canonical text (canonical_json) the outcome and message equal
// decode_event's on the parsed value; on other text they may differ where the parsers do (simdjson
// refuses integers beyond 64 bits, reads `-0` as a fraction and keeps a repeated key, which is refused).
Result<Event> decode_stored(std::string_view type, std::string_view data);

// The canonical text of the `data` object (absent optionals omitted, durations as ISO 8601): the
// bytes canonical_json (events/envelope.hpp) prints for it, written without building a DOM.
std::string encode_data(const Event& e);

// An event as a client posts it.
struct Posted {
    Event event;
    std::optional<std::string> event_id;
    std::optional<Instant> occurred_at;
    std::optional<std::int64_t> expected_version;
    std::optional<std::string> actor; // only to be checked against the authenticated subject
};

// `{"type", "data", "event_id"?, "occurred_at"?, "expected_version"?, "actor"?}`.
Result<Posted> decode_posted(const nlohmann::json& body);

// The body of POST /v1/events: one event (as decode_posted) or a batch `{"events": [...]}`.
struct PostedBody {
    bool batch = false; // the body was {"events": [...]}, even of one event
    std::vector<Posted> events;
};
// Parses and decodes the body of POST /v1/events with simdjson: one event object (decode_posted) or
// {"events": [...]} of 1 to max_batch events. Problems come in the order the API has always checked
// them: nesting deeper than 32 levels, not JSON (or not valid UTF-8), not an object, a batch with other
// fields, `events` not an array, empty, or longer than max_batch (too_large), then the first event that
// does not decode, its message after "events[i]: ". Outcome and message equal those of nlohmann's
// json::parse and decode_posted on its DOM for every body but one that gives a key twice in one
// object: nlohmann's DOM kept the last copy, this refuses the body (unprocessable), naming the key as
// the decoder would ("data.case_id is given more than once", "events is given more than once").
Result<PostedBody> decode_posted_body(std::string_view body, std::size_t max_batch);
// Whether no array or object of a JSON text lies more than `limit` levels deep, counted outside
// strings without parsing (so it answers for any text); stops early past `limit`.
bool nesting_within(std::string_view text, std::size_t limit);

} // namespace gridloop::events

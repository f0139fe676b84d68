// Everything users read, folded from the log: grids, departments, persons, policy, cases, members.
#pragma once

#include "projections/entities.hpp"
#include "projections/geo.hpp"
#include "projections/id_index.hpp"
#include "projections/snapshot.hpp"
#include "projections/stats.hpp"

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gridloop::projections {

class Model {
public:
    // Indexes point into the entity maps: a model moves but is never copied.
    Model() = default;
    Model(Model&&) = default;
    Model& operator=(Model&&) = default;
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    // One fold step. The event must have been decided valid against this model.
    void apply(const events::Envelope& e);
    // For a run of events applied together (a replay, the tail after a snapshot): the statistics are
    // set aside while the events apply and brought up to date once by settle_stats() — built in one
    // pass when the model started empty, otherwise updated once for each case and member the events
    // touched. Both cost several times less than keeping them up to date event by event. stats() must
    // not be read in between.
    void defer_stats();
    void settle_stats();

    std::int64_t position() const { return position_; }
    Instant recorded_at() const { return recorded_at_; } // of the last applied event
    const std::string& head_hash() const { return head_hash_; }

    const Config& config() const { return config_; }
    const ById<Grid>& grids() const { return grids_.map(); }
    const ById<Department>& departments() const { return departments_; }
    const ById<Person>& persons() const { return persons_; }
    const ById<Case>& cases() const { return cases_.map(); }
    const ById<Member>& members() const { return members_.map(); }
    // Every open case by due time (ties by report time, then address): what the scheduler runs out.
    // Deferred and settled with the statistics, which is why it is not read in between either.
    const DueBlocks& open_by_due() const { return open_by_due_; }
    // Statistics per grid subtree, kept up to date by apply() (or, while deferred, by settle_stats()).
    const StatsIndex& stats() const { return stats_; }
    // A name of the timelines' table: an actor or department id ("" for 0).
    const std::string& name(NameId id) const { return names_.at(id).text; }

    const Grid* grid(HashedId id) const { return grids_.find(id); }
    const Department* department(HashedId id) const { return find(departments_, id.id); }
    const Person* person(HashedId id) const { return find(persons_, id.id); }
    const Case* find_case(HashedId id) const { return cases_.find(id); }
    const Member* member(HashedId id) const { return members_.find(id); }

    // The root grids (towns), in definition order.
    const std::vector<std::string>& roots() const { return roots_; }
    // `root` and every grid below it, parents before children.
    std::vector<std::string> subtree(std::string_view root) const;
    // Whether `grid` is `root` or lies below it.
    bool within(std::string_view grid, std::string_view root) const;
    // The micro-grid whose boundary contains the point (R-tree, then exact point-in-polygon).
    std::optional<std::string> route(double lat, double lng) const { return micro_index_.find(lat, lng); }
    // The micro-grid with a boundary nearest the point, and how far it is in metres.
    std::optional<geo::Nearest> nearest_micro(double lat, double lng) const { return micro_index_.nearest(lat, lng); }
    // Cases reported directly in one grid, in report order.
    const std::vector<const Case*>& cases_in(std::string_view grid) const;
    // Every case in report order: by reported_at (the recorded_at of its IssueReported, which never
    // decreases along the log), ties in log order. A window of report times is a binary search.
    const std::vector<const Case*>& reported() const { return reported_; }
    // Every category a case was reported in, with when the first such case was reported.
    const std::map<std::string, Instant, std::less<>>& categories() const { return categories_; }
    // The cases that have been on one department after some event of theirs (each once, in no
    // particular order): those its staff see, and a superset of those on it now.
    const std::vector<const Case*>& cases_of_department(std::string_view dept_id) const;
    // Members whose residence is one grid.
    std::vector<const Member*> residents_of(std::string_view grid) const;
    // Members whose home branch is one grid, by member_id.
    std::vector<const Member*> members_of_branch(std::string_view grid) const;
    // Open cases on one department, oldest due_at first (ties by case_id). Whether each is overdue
    // depends on the time asked about: Case::overdue(now).
    std::vector<const Case*> department_queue(std::string_view dept_id) const;

    template <class T> static const T* find(const ById<T>& m, std::string_view id) {
        auto it = m.find(id);
        return it == m.end() ? nullptr : &it->second;
    }

private:
    friend void save(const Model& model, snapshot::Parts& parts);
    friend Model load(const snapshot::Opener& open);
    StatsIndex::Refs refs() const; // cases and members in id order, for the snapshot of stats_

    std::int64_t position_ = 0;
    Instant recorded_at_{};
    std::string head_hash_;
    Config config_;
    // The entities the fold looks up by id most are indexed for it besides their id order.
    Indexed<Grid, &Grid::grid_id> grids_;
    ById<Department> departments_;
    ById<Person> persons_;
    Indexed<Case, &Case::case_id> cases_;
    Indexed<Member, &Member::member_id> members_;
    std::vector<std::string> roots_;
    struct Name {
        std::string text;
        NameId id = 0;
    };
    std::deque<Name> names_{Name{}}; // NameId → name; a deque never moves its elements
    IdIndex<Name, &Name::text> name_ids_;
    NameId name_id(std::string_view name);
    geo::GridIndex micro_index_; // micro-grids that have a boundary
    struct GridCases {
        std::string grid_id;
        std::vector<const Case*> cases; // in log order
    };
    Indexed<GridCases, &GridCases::grid_id> cases_by_grid_;
    std::vector<const Case*> reported_; // every case, in report order
    std::map<std::string, Instant, std::less<>> categories_;
    std::map<std::string, std::vector<const Case*>, std::less<>> cases_by_dept_;
    void add_department_case(const Case& c); // after c's newest timeline entry
    ById<std::map<std::string, const Member*, std::less<>>> residents_;
    ById<std::map<std::string, const Member*, std::less<>>> branch_members_;
    ById<std::map<std::pair<Instant, std::string>, const Case*>> dept_queues_; // open cases on each department
    DueBlocks open_by_due_;
    StatsIndex stats_;
    // While the statistics are deferred: where they stood, and what the events since then touched.
    struct Deferred { // no member initializers: clang cannot use them before Model is complete
        std::int64_t since;
        bool rebuild; // the model was empty: build them all at the end
        struct Before {
            std::optional<StatsIndex::CaseMark> mark; // none: reported since
            std::map<std::string, std::int64_t> returns;
        };
        std::unordered_map<const Case*, Before> cases;
        std::vector<const Case*> order;                                          // first touched first
        std::unordered_map<const Member*, std::pair<std::string, Instant>> members; // residence and last contact before
    };
    std::optional<Deferred> deferred_;
    void rebuild_stats();
    void index_open_cases(); // open_by_due_ from every case
    void index_cases();      // reported_, categories_ and cases_by_dept_ from every case
    void add_report(const Case& c); // a case just reported, to both
};

// The ladder of a case reported in `micro_grid`: which rungs exist above it. `lookup` finds a grid.
RungMask ladder(std::string_view micro_grid, const std::function<const Grid*(std::string_view)>& lookup);

} // namespace gridloop::projections

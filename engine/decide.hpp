// decide: may this event be appended now? Checked against the read model seen through a View,
// a copy-on-write overlay that lets a batch be decided event by event and dropped if one fails.
#pragma once

#include "events/envelope.hpp"
#include "projections/model.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gridloop::engine {

using projections::Case;
using projections::Config;
using projections::Department;
using projections::Grid;
using projections::HashedId;
using projections::Member;
using projections::Person;

// The model as it would be after the tentatively accepted events: reads fall through to the
// parent view (or the model); writes copy the entity into this layer first.
class View {
public:
    explicit View(const projections::Model& model, const View* parent = nullptr) : model_(model), parent_(parent) {}

    // Each hashes the id once for all the layers and the model.
    const Grid* grid(HashedId id) const { return lookup(&View::grids_, &projections::Model::grid, id); }
    const Department* department(HashedId id) const { return lookup(&View::departments_, &projections::Model::department, id); }
    const Person* person(HashedId id) const { return lookup(&View::persons_, &projections::Model::person, id); }
    const Case* find_case(HashedId id) const { return lookup(&View::cases_, &projections::Model::find_case, id); }
    const Member* member(HashedId id) const { return lookup(&View::members_, &projections::Model::member, id); }
    const Config& config() const;

    // The last version of the stream the event belongs to (0 when it does not exist yet).
    std::int64_t stream_version(const events::Event& e) const;
    // The micro-grid whose boundary contains the point, if any: the model's R-tree first, then the
    // few grids defined in this view's layers.
    std::optional<std::string> route(double lat, double lng) const;
    // The micro-grid with a boundary nearest the point, and its distance in metres.
    std::optional<projections::geo::Nearest> nearest_micro(double lat, double lng) const;
    // Whether `grid` is `root` or below it.
    bool within(HashedId grid, std::string_view root) const;

    // Folds an accepted event into this layer.
    void apply(const events::Envelope& e);
    // Moves this layer's entities into `parent` (which must be this view's parent).
    void merge_into(View& parent);
    // Reads that miss this layer go to the model from now on: the parent's changes are in it.
    void detach() { parent_ = nullptr; }

private:
    // Heterogeneous: a lookup by a HashedId builds no string and hashes nothing.
    struct IdHash {
        using is_transparent = void;
        std::size_t operator()(const std::string& id) const noexcept { return HashedId(id).hash; }
        std::size_t operator()(const HashedId& id) const noexcept { return id.hash; }
    };
    struct IdEq {
        using is_transparent = void;
        bool operator()(const std::string& a, const std::string& b) const noexcept { return a == b; }
        bool operator()(const HashedId& a, const std::string& b) const noexcept { return a.id == b; }
    };
    template <class T> using Layer = std::unordered_map<std::string, T, IdHash, IdEq>;
    template <class T> using Base = const T* (projections::Model::*)(HashedId) const;
    // The entity as the layers from `from` down, then the model, have it.
    template <class T> const T* lookup(Layer<T> View::*layer, Base<T> base, const HashedId& id, const View* from) const {
        for (const View* v = from; v; v = v->parent_) {
            const auto& l = v->*layer;
            if (l.empty()) continue; // most layers hold no entity of most kinds
            if (auto it = l.find(id); it != l.end()) return &it->second;
        }
        return (model_.*base)(id);
    }
    template <class T> const T* lookup(Layer<T> View::*layer, Base<T> base, const HashedId& id) const {
        return lookup(layer, base, id, this);
    }
    template <class T> T& edit(Layer<T> View::*layer, Base<T> base, const std::string& id) {
        const HashedId key(id);
        auto& l = this->*layer;
        if (auto it = l.find(key); it != l.end()) return it->second;
        const T* current = lookup(layer, base, key, parent_);
        return l.emplace(id, current ? *current : T{}).first->second;
    }

    const projections::Model& model_;
    const View* parent_;
    Layer<Grid> grids_;
    Layer<Department> departments_;
    Layer<Person> persons_;
    Layer<Case> cases_;
    Layer<Member> members_;
    std::optional<Config> config_;
};

// Refusal or acceptance of one posted event by `actor` at `now`. On acceptance returns the event
// as it is to be stored (an IssueReported routed by location gets its grid_id).
events::Result<events::Event> decide(const View& view, const events::Posted& posted, std::string_view actor,
                                     events::Instant now);

// The subject the engine itself writes as; no token may claim it.
inline constexpr std::string_view system_actor = "system";
// Event ids the engine gives its own time-outs; nobody else may take them.
inline constexpr std::string_view timeout_id_prefix = "timeout-";

} // namespace gridloop::engine

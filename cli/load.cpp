// Scripted histories into the engine.
#include "cli/load.hpp"

#include <nlohmann/json.hpp>

namespace gridloop::cli {

LoadResult load(engine::Engine& engine, const std::function<bool(samples::Step&)>& next, std::size_t group_size,
                const engine::Progress& progress) {
    LoadResult result;
    std::int64_t seen = 0;
    std::vector<engine::Submission> group;
    std::vector<std::string> labels;
    auto flush = [&] {
        auto results = engine.append_many(std::move(group));
        for (std::size_t i = 0; i < results.size(); ++i) {
            if (results[i]) result.appended += static_cast<std::int64_t>(results[i]->envelopes.size());
            else result.refused.push_back(labels[i] + ": " + results[i].error().message);
        }
        group.clear();
        labels.clear();
        if (progress) progress(seen, 0);
    };
    samples::Step step;
    while (next(step)) {
        ++seen;
        std::string label = "step " + std::to_string(seen) + " (" + step.posted.value("event_id", std::string("?")) + ")";
        auto posted = events::decode_posted(step.posted);
        if (!posted) {
            result.refused.push_back(label + ": " + posted.error().message);
            continue;
        }
        group.push_back(engine::Submission{{std::move(*posted)}, step.actor, step.at});
        labels.push_back(std::move(label));
        if (group.size() >= group_size) flush();
    }
    if (!group.empty()) flush();
    return result;
}

} // namespace gridloop::cli

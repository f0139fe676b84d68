// Benchmark (not a test): the member views over a synthetic city of 100,000 members; prints the median of 21 runs per view.
#include "projections/members.hpp"

#include <chrono>
#include <cstdio>
#include <random>

using namespace gridloop;
using namespace gridloop::events;
using namespace gridloop::projections;

struct Builder {
    Model model;
    std::int64_t pos = 0;
    std::map<std::string, std::int64_t> versions;
    void add(Instant t, Event ev) {
        Envelope e;
        e.position = ++pos;
        e.event = std::move(ev);
        e.stream = stream_of(e.event);
        e.version = ++versions[e.stream];
        e.recorded_at = e.occurred_at = t;
        model.apply(e);
    }
};

template <class F> double ms(F&& f, int reps) {
    std::vector<double> xs;
    for (int i = 0; i < reps; ++i) {
        auto a = std::chrono::steady_clock::now();
        f();
        xs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(xs.begin(), xs.end());
    return xs[xs.size() / 2];
}

int main() {
    Builder b;
    std::mt19937_64 rng(42);
    Instant t0 = *parse_time("2026-01-01T00:00:00+08:00");
    std::vector<std::string> micros, branches, towns, communities;
    for (int T = 0; T < 20; ++T) {
        std::string t = "t" + std::to_string(T);
        towns.push_back(t);
        b.add(t0, GridDefined{t, t, Level::town, std::nullopt, std::nullopt, std::nullopt});
        for (int C = 0; C < 10; ++C) {
            std::string c = t + "-c" + std::to_string(C);
            communities.push_back(c);
            branches.push_back(c);
            b.add(t0, GridDefined{c, c, Level::community, t, std::nullopt, std::nullopt});
            for (int G = 0; G < 5; ++G) {
                std::string g = c + "-g" + std::to_string(G);
                branches.push_back(g);
                b.add(t0, GridDefined{g, g, Level::grid, c, std::nullopt, std::nullopt});
                for (int M = 0; M < 10; ++M) {
                    std::string m = g + "-m" + std::to_string(M);
                    micros.push_back(m);
                    b.add(t0, GridDefined{m, m, Level::micro, g, std::nullopt, std::nullopt});
                }
            }
        }
    }
    const int N = 100000;
    auto pick = [&](const std::vector<std::string>& v) -> const std::string& { return v[rng() % v.size()]; };
    auto fold_start = std::chrono::steady_clock::now();
    std::vector<std::string> ids;
    for (int i = 0; i < N; ++i) {
        char id[16];
        std::snprintf(id, sizeof id, "m-%06d", i);
        ids.emplace_back(id);
        const std::string& home_micro = micros[static_cast<std::size_t>(i) / 10];
        std::string branch = home_micro.substr(0, home_micro.rfind("-m"));
        if (i % 5 == 0) branch = branch.substr(0, branch.rfind("-g"));
        b.add(t0 + std::chrono::seconds(i), MemberRegistered{id, "name", static_cast<MemberCategory>(i % 6), branch, home_micro});
    }
    Instant t = t0 + std::chrono::hours(24 * 30);
    for (int i = 0; i < N; ++i) {
        const std::string& id = ids[static_cast<std::size_t>(i)];
        t += std::chrono::seconds(30);
        if (i % 4 == 0) b.add(t, MemberRelocated{id, pick(micros), std::nullopt});
        if (i % 20 == 0) b.add(t, MembershipTransferred{id, pick(branches)});
    }
    for (int round = 0; round < 3; ++round)
        for (int i = 0; i < N; ++i) {
            t += std::chrono::seconds(60);
            b.add(t, PointsAwarded{ids[rng() % N], static_cast<std::int64_t>(1 + rng() % 20), "v", std::nullopt});
        }
    for (int i = 0; i < N; ++i) {
        t += std::chrono::seconds(20);
        if (i % 40 != 0) b.add(t, MemberContacted{ids[static_cast<std::size_t>(i)], "p", "phone"});
    }
    const double fold_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - fold_start).count();
    const Instant now = t + std::chrono::hours(24);
    const Model& m = b.model;
    std::printf("members %zu, grids %zu, events %lld, member fold %.0f ms, now %s\n", m.members().size(), m.grids().size(),
                static_cast<long long>(b.pos), fold_ms, format_time(now).c_str());
    const Month month = month_of(t - std::chrono::hours(24 * 60), m.config().calendar);
    std::printf("month %s\n", format_month(month).c_str());
    const int R = 21;
    std::size_t sink = 0;
    auto report = [&](const char* what, auto&& f) {
        std::printf("%-55s %8.3f ms\n", what, ms([&] { sink += f(); }, R));
    };
    MemberFilter all;
    report("list_members(city, limit 50)", [&] { return list_members(m, all, now, {"", 50}).items.size(); });
    report("list_members(city, after m-050000, limit 50)", [&] { return list_members(m, all, now, {"m-050000", 50}).items.size(); });
    MemberFilter lost; lost.lost_contact = true;
    report("list_members(city, lost_contact, limit 50)", [&] { return list_members(m, lost, now, {"", 50}).total; });
    MemberFilter town; town.grid = "t3";
    report("list_members(town 5k, limit 50)", [&] { return list_members(m, town, now, {"", 50}).items.size(); });
    MemberFilter comm; comm.grid = "t3-c4"; comm.category = MemberCategory::mobile;
    report("list_members(community, mobile, all)", [&] { return list_members(m, comm, now).items.size(); });
    report("lost_contact_members(town)", [&] { return lost_contact_members(m, "t3", now).items.size(); });
    report("outflow(grid branch)", [&] { return outflow(m, "t3-c4-g2").items.size(); });
    report("outflow(community, own)", [&] { return outflow(m, "t3-c4").items.size(); });
    report("outflow(town, subtree)", [&] { return outflow(m, "t3", BranchScope::subtree).items.size(); });
    report("inflow(community)", [&] { return inflow(m, "t3-c4").items.size(); });
    report("inflow(town)", [&] { return inflow(m, "t3").items.size(); });
    report("member_detail", [&] { return member_detail(m, "m-012345", now)->ledger.size(); });
    report("vanguard_leaderboard(city, month, top 100)", [&] { return vanguard_leaderboard(m, "", month, 100).entries.size(); });
    report("vanguard_leaderboard(town, month, all)", [&] { return vanguard_leaderboard(m, "t3", month).entries.size(); });
    report("fortress_index(city, month)", [&] { return fortress_index(m, "", month).size(); });
    report("fortress_index(town, month)", [&] { return fortress_index(m, "t3", month).size(); });
    auto o = outflow(m, "t3", BranchScope::subtree);
    auto lb = vanguard_leaderboard(m, "", month, 100);
    std::printf("sizes: city lost=%zu town outflow=%zu town inflow=%zu, city leaderboard members=%zu top=%lld\n",
                list_members(m, lost, now).total, o.total, inflow(m, "t3").total, lb.members,
                static_cast<long long>(lb.entries.empty() ? 0 : lb.entries[0].earned));
    return sink == 0;
}

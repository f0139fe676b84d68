#!/usr/bin/env bash
# Issue 8's benchmark suite in one command: builds what it needs, generates (or reuses) a synthetic
# log, measures every item against a baseline taken in the same run and prints the table
#   item | figure | baseline | ratio | target | met?
# Figures are medians of --runs runs; each ratio is the median of the per-run ratios, where a run
# measures gridloop and its baseline back to back (this machine is shared and noisy).
#
# usage: bash bench/run.sh [--events N] [--towns T] [--db FILE] [--only ITEMS] [--runs N] [--replays N]
#                          [--startups N] [--duration S] [--connections C] [--batch-connections C]
#                          [--snapshot-spacing N] [--build DIR] [--no-build] [--out FILE] [--perf DIR] [--keep]
#   --events N   size of the generated log (default 2000000); ignored when --db names an existing file
#   --towns T    generate with `gridloop generate --towns T` (--towns 1: every case in one town, for
#                the town-level reads at 2 million cases: --events 12000000 --towns 1)
#   --db FILE    the log to measure: reused when it exists, generated there otherwise (default
#                BUILD/bench-city-N[-towns-T].db). It is never written to: the server runs on a copy.
#   --only ITEMS measure only these, comma-separated: replay, reads, asof, appends, batches (start-up
#                and memory are always measured: the server has to start); e.g. --only reads
#   --snapshot-spacing N  snapshots of the model (engine/snapshots.hpp) that start-up and as_of start
#                from: those beside the log (FILE.snapshots/) are copied with it; when there are none,
#                they are taken on the copy first, one every N events and one at the head (default
#                1000000, as `gridloop serve` takes them, and thinned as it thins them: 8 spread over
#                the log; 0 = none: start-up and as_of fold from 1)
#   --runs N     pairs of runs for reads and appends (default 3); --replays N pairs of replay and
#                bare read (default: --runs); --startups N start-ups (default 3)
#   --duration S seconds per wrk run (default 10)
#   --connections C  connections for reads and single appends (default 64); reads are also run once
#                at C/4 and C/2 connections, for the latency at a shallower queue
#   --perf DIR   after the measured runs, one more run of replay, reads, appends and batches under
#                `perf record`, with flat profiles in DIR/*.txt (not part of the figures)
#   --out FILE   also write the table (markdown) to FILE
# Never part of the test suite: CI does not build or run anything in bench/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

events=2000000 towns="" only="" db="" runs=3 replays="" startups=3 duration=10 conns=64 batch_conns=16 batch=100
build="$root/build-bench" do_build=1 out="" perf_dir="" keep=0 spacing=1000000
while [[ $# -gt 0 ]]; do
    case "$1" in
    --events) events=$2; shift 2 ;;
    --towns) towns=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --snapshot-spacing) spacing=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --replays) replays=$2; shift 2 ;;
    --startups) startups=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --batch-connections) batch_conns=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --out) out=$2; shift 2 ;;
    --perf) perf_dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
replays=${replays:-$runs}
for item in ${only//,/ }; do
    case "$item" in replay | reads | asof | appends | batches) ;; *) echo "bench/run.sh: --only knows replay, reads, asof, appends, batches, not $item" >&2; exit 2 ;; esac
done
wants() { [[ -z $only || ,$only, == *,$1,* ]]; } # is item $1 measured in this run?

say() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
median() { [[ $# -gt 0 ]] || { echo 0; return; }; printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" | tail -1; } # key=value from a result line

# ------------------------------------------------------------------ tools and build
if ! command -v wrk >/dev/null; then
    say "installing wrk"
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
for tool in curl python3 cmake; do command -v $tool >/dev/null || die "$tool is missing (bash scripts/setup.sh installs the build tools)"; done
[[ -z $perf_dir ]] || command -v perf >/dev/null || die "--perf needs perf (apt-get install linux-perf)"

targets=(gridloop)
! wants replay || targets+=(gridloop_bench_bare_read)
! wants batches || targets+=(gridloop_bench_bare_append)
if [[ $do_build -eq 1 ]]; then
    say "building ${targets[*]} in $build (Release)"
    export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
    [[ -f $build/build.ninja || -f $build/Makefile ]] ||
        cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g -DGRIDLOOP_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null || die "the build failed (cmake --build $build)"
fi
gridloop="$build/cli/gridloop"
bare_read="$build/bench/gridloop_bench_bare_read"
bare_append="$build/bench/gridloop_bench_bare_append"
[[ -x $gridloop ]] || die "$gridloop is not built"
! wants replay || [[ -x $bare_read ]] || die "$bare_read is not built"
! wants batches || [[ -x $bare_append ]] || die "$bare_append is not built"

# ------------------------------------------------------------------ the log and the work dir
[[ -n $db ]] || db="$build/bench-city-$events${towns:+-towns-$towns}.db"
if [[ ! -f $db ]]; then
    say "generating a synthetic log of $events events${towns:+ in $towns town(s)} into $db"
    mkdir -p "$(dirname "$db")"
    t0=$(now)
    "$gridloop" generate --db "$db" --events "$events" --seed 1 ${towns:+--towns "$towns"} >&2
    say "generated in $(calc "$(now) - $t0" 1) s"
fi
work=$(mktemp -d "$(dirname "$(readlink -f "$db")")/bench-run.XXXXXX")
server_pid="" perf_pid=""
cleanup() {
    local code=$?
    [[ -z $perf_pid ]] || kill -INT "$perf_pid" 2>/dev/null || true
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    if [[ $keep -eq 1 ]]; then say "kept $work"; else rm -rf "$work"; fi
    exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server and the bare appender write to copies; the log given is only read.
say "copying the log into $work"
serve_db="$work/serve.db" bare_db="$work/bare.db"
for suffix in "" -wal; do
    [[ -f $db$suffix ]] || continue
    cp "$db$suffix" "$serve_db$suffix"
    ! wants batches || cp "$db$suffix" "$bare_db$suffix"
done
if [[ $spacing -gt 0 && -d $db.snapshots ]]; then
    cp -r "$db.snapshots" "$serve_db.snapshots"
elif [[ $spacing -gt 0 ]]; then
    # What a server running with --snapshot-every N would have left beside its log (the default
    # --snapshot-keep: 8, spread over the log).
    last=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select max(position) from events").fetchone()[0] or 0)' "$serve_db")
    say "no snapshots beside the log: taking them on the copy, every $spacing events and at the head ($last)"
    for ((p = spacing; p < last; p += spacing)); do "$gridloop" snapshot --db "$serve_db" --as-of "$p" >/dev/null 2>&1; done
    "$gridloop" snapshot --db "$serve_db" >/dev/null 2>&1
fi
snapshots=$(ls "$serve_db.snapshots" 2>/dev/null | sed 's/^0*//; s/\.snap$//' | paste -sd' ' -)
say "snapshots: ${snapshots:-none}"

# A plain admin token (http/auth.cpp: a JSON array of {token, subject, role, scope}).
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
tokens="$work/tokens.json"
printf '[{"token": "%s", "subject": "bench", "role": "admin", "scope": []}]\n' "$token" >"$tokens"
auth=(-H "Authorization: Bearer $token")

machine="$(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+uncommitted changes')"
built=$(date -u -r "$gridloop" '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ (3) replay vs bare read
declare -a replay_s bare_s replay_ratio replay_cpu bare_cpu replay_cpu_ratio replay_rss
if wants replay; then
    say "replay: $replays pairs of bare read and gridloop replay"
    # Wall time is what the target is about; CPU time (user + system) is beside it because on a busy
    # machine the wall time of a CPU-bound program mostly measures its wait for a core.
    for i in $(seq "$replays"); do
        t0=$(now)
        r=$(/usr/bin/time -f 'cpu=%U+%S' -o "$work/bare.time" "$bare_read" "$db")
        bare_s+=("$(calc "$(now) - $t0")")
        bare_cpu+=("$(calc "$(field cpu <"$work/bare.time")")")
        rows=$(field rows <<<"$r")
        t0=$(now)
        /usr/bin/time -f 'cpu=%U+%S rss=%M' -o "$work/replay.time" "$gridloop" replay --db "$db" >"$work/replay.out"
        replay_s+=("$(calc "$(now) - $t0")")
        replay_cpu+=("$(calc "$(field cpu <"$work/replay.time")")")
        replay_rss+=("$(field rss <"$work/replay.time")")
        replay_ratio+=("$(calc "${bare_s[-1]} / ${replay_s[-1]}" 4)")
        replay_cpu_ratio+=("$(calc "${bare_cpu[-1]} / ${replay_cpu[-1]}" 4)")
        say "  run $i: bare read ${bare_s[-1]} s (CPU ${bare_cpu[-1]} s), replay ${replay_s[-1]} s (CPU ${replay_cpu[-1]} s), $rows events"
    done
    head_position=$rows
fi

# ------------------------------------------------------------------ (4) start-up, (6) memory
start_server() {
    : >"$work/serve.out"
    local t0 url
    t0=$(now)
    "$gridloop" serve --db "$serve_db" --listen 127.0.0.1:0 --tokens "$tokens" --quiet >"$work/serve.out" 2>"$work/serve.err" &
    server_pid=$!
    until grep -q '^gridloop serving' "$work/serve.out"; do
        kill -0 "$server_pid" 2>/dev/null || die "gridloop serve stopped: $(cat "$work/serve.err")"
        sleep 0.02
    done
    port=$(sed -n 's|^gridloop serving .* on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/serve.out")
    base="http://127.0.0.1:$port"
    curl -sf "${auth[@]}" "$base/v1/grids" -o "$work/grids.json" || die "GET /v1/grids failed"
    town=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["grids"][0]["grid_id"])' "$work/grids.json")
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/v1/grids/$town/stats") == 200 ]]; do sleep 0.02; done
    startup_s+=("$(calc "$(now) - $t0")")
    startup_cpu+=("$(cpu_s)")
    started_from=$(sed -n 's/.*started from the snapshot at position \([0-9]*\).*/\1/p' "$work/serve.err" | tail -1)
}
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$server_pid/stat"; } # the server's user + system
stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=""
}
hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$server_pid/status"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status"; }

say "start-up: $startups starts of gridloop serve up to the first 200 from /v1/grids/{town}/stats"
declare -a startup_s startup_hwm startup_cpu
for i in $(seq "$startups"); do
    start_server
    startup_hwm+=("$(hwm_kib)")
    say "  start $i: ${startup_s[-1]} s (CPU ${startup_cpu[-1]} s), VmHWM $((startup_hwm[-1] / 1024)) MiB"
    [[ $i -eq $startups ]] || stop_server
done

# The cases (every town's reported count), the town's own, and its micro-grids for the appends.
cases=0
for t in $(python3 -c 'import json, sys; print(" ".join(g["grid_id"] for g in json.load(open(sys.argv[1]))["grids"]))' "$work/grids.json"); do
    n=$(curl -sf "${auth[@]}" "$base/v1/grids/$t/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["reported"])')
    cases=$((cases + n))
    [[ $t != "$town" ]] || town_cases=$n
done
micros=$(python3 -c '
import json, sys
def walk(g):
    if g["level"] == "micro": yield g["grid_id"]
    for c in g["children"]: yield from walk(c)
print(",".join(list(walk(json.load(open(sys.argv[1]))["grids"][0]))[:200]))' "$work/grids.json")

# ------------------------------------------------------------------ wrk pairs
# wrk_run NAME SCRIPT URL CONNECTIONS [VAR=VALUE...]: one wrk run; its result line in $work/NAME.txt
wrk_run() {
    local name=$1 script=$2 url=$3 c=$4
    shift 4
    local c0
    c0=$(cpu_s)
    env TOKEN="$token" "$@" wrk -t2 -c"$c" -d"${duration}s" --timeout 10s -s "$here/$script" "$url" >"$work/$name.txt" 2>&1 ||
        die "wrk failed: $(cat "$work/$name.txt")"
    # The server's CPU seconds during the run: what a request costs, whatever the machine's load.
    echo "$(grep '^wrk-result' "$work/$name.txt" | tail -1) server_cpu=$(calc "$(cpu_s) - $c0" 2)"
}
us_per() { calc "$(field server_cpu <<<"$1") * 1000000 / ($(field requests <<<"$1") * ${2:-1})" 0; } # server CPU µs per request (or per event)
rate() { calc "$(field requests <<<"$1") / $(field seconds <<<"$1")" 0; }
ok_rate() { calc "($(field requests <<<"$1") - $(field non2xx <<<"$1")) / $(field seconds <<<"$1")" 0; }
head_now() { curl -sf "$base/healthz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["position"])'; }

declare -a health_r health_p99 stats_r stats_p99 stats_ratio health_us stats_us
if wants reads; then
    say "reads: $runs pairs of wrk on /healthz and on /v1/grids/$town/stats, $conns connections, ${duration} s each"
    for i in $(seq "$runs"); do
        h=$(wrk_run health get.lua "$base/healthz" "$conns")
        s=$(wrk_run stats get.lua "$base/v1/grids/$town/stats" "$conns")
        [[ $(field non2xx <<<"$s") == 0 ]] || die "stats answered non-2xx: $s"
        health_r+=("$(rate "$h")") health_p99+=("$(field p99_ms <<<"$h")") stats_r+=("$(rate "$s")") stats_p99+=("$(field p99_ms <<<"$s")")
        stats_ratio+=("$(calc "${stats_r[-1]} / ${health_r[-1]}" 4)")
        health_us+=("$(us_per "$h")") stats_us+=("$(us_per "$s")")
        say "  run $i: /healthz ${health_r[-1]} req/s (p99 ${health_p99[-1]} ms), stats ${stats_r[-1]} req/s, p99 ${stats_p99[-1]} ms; server CPU per request ${health_us[-1]} / ${stats_us[-1]} µs"
    done
    # The same at a quarter and half the connections, one pair each: a closed loop of C connections
    # keeps C requests queued, so latency grows with C while the rate stays (Little's law).
    sweep=()
    for c in $((conns / 4)) $((conns / 2)); do
        [[ $c -ge 2 ]] || continue
        h=$(wrk_run health get.lua "$base/healthz" "$c")
        s=$(wrk_run stats get.lua "$base/v1/grids/$town/stats" "$c")
        [[ $(field non2xx <<<"$s") == 0 ]] || die "stats answered non-2xx: $s"
        # connections | stats req/s | p50 | p99 | /healthz req/s | its p99
        sweep+=("$c $(rate "$s") $(field p50_ms <<<"$s") $(field p99_ms <<<"$s") $(rate "$h") $(field p99_ms <<<"$h")")
        say "  $c connections: stats $(rate "$s") req/s, p99 $(field p99_ms <<<"$s") ms; /healthz $(rate "$h") req/s, p99 $(field p99_ms <<<"$h") ms"
    done
fi
hwm_reads=$(hwm_kib)

# ------------------------------------------------------------------ (7) as_of
[[ -n ${head_position:-} ]] || head_position=$(head_now) # without the replay: the head the server started at
declare -a asof_pos asof_s asof_cpu
if wants asof; then
    # 10 %, 50 %, 90 % of the head, and (with snapshots) the worst case: the position just before the
    # snapshot that ends the widest gap between them (from position 0 before the first; the later of
    # equal gaps, whose model is larger), which folds that whole gap on top of the one below it.
    positions=("$((head_position * 10 / 100))" "$((head_position * 50 / 100))" "$((head_position * 90 / 100))")
    worst=0 widest=0 below=0
    for s in $snapshots; do
        if ((s - below >= widest && s - 1 > below)); then widest=$((s - below)) worst=$((s - 1)); fi
        below=$s
    done
    ((worst == 0)) || positions+=("$worst")
    say "as_of: one request each at ${positions[*]} (head $head_position)"
    for p in "${positions[@]}"; do
        c0=$(cpu_s)
        r=$(curl -s --max-time 1800 -o /dev/null -w '%{http_code} %{time_total}' "${auth[@]}" "$base/v1/grids/$town/stats?as_of=$p")
        [[ ${r%% *} == 200 ]] || die "as_of=$p answered ${r%% *}"
        asof_pos+=("$p") asof_s+=("$(calc "${r#* }" 2)") asof_cpu+=("$(calc "$(cpu_s) - $c0" 2)")
        say "  as_of=$p: ${asof_s[-1]} s (server CPU ${asof_cpu[-1]} s)"
    done
fi
hwm_asof=$(hwm_kib)
rss_asof=$(rss_kib)

# ------------------------------------------------------------------ (1) single-event appends
declare -a health_w health_w_p99 post_r post_p99 post_ratio post_bad post_us
if wants appends; then
    say "appends: $runs pairs of wrk on /healthz and posting unique IssueReported, $conns connections"
    for i in $(seq "$runs"); do
        h=$(wrk_run health get.lua "$base/healthz" "$conns")
        p0=$(head_now)
        p=$(wrk_run post post_report.lua "$base/v1/events" "$conns" GRIDS="$micros" RUN="single$i-$$")
        p1=$(head_now)
        created=$(($(field requests <<<"$p") - $(field non2xx <<<"$p")))
        # Every 201 is in the log (each was committed with synchronous=FULL before it was answered).
        ((p1 - p0 >= created)) || die "the log grew by $((p1 - p0)) but $created requests were answered 201"
        post_bad+=("$(($(field non2xx <<<"$p") + $(field socket_errors <<<"$p")))")
        health_w+=("$(rate "$h")") health_w_p99+=("$(field p99_ms <<<"$h")") post_r+=("$(ok_rate "$p")") post_p99+=("$(field p99_ms <<<"$p")")
        post_ratio+=("$(calc "${post_r[-1]} / ${health_w[-1]}" 4)")
        health_us+=("$(us_per "$h")") post_us+=("$(us_per "$p")")
        say "  run $i: /healthz ${health_w[-1]} req/s, POST ${post_r[-1]} 201/s, p99 ${post_p99[-1]} ms, not 201: ${post_bad[-1]}; server CPU per request ${health_us[-1]} / ${post_us[-1]} µs"
    done
fi

# ------------------------------------------------------------------ (2) batched appends
declare -a batch_r batch_p99 bare_r batch_ratio batch_bad batch_us
if wants batches; then
    say "batches: $runs pairs of wrk posting $batch events per request ($batch_conns connections) and the bare SQLite insert of the same rows"
    for i in $(seq "$runs"); do
        p0=$(head_now)
        b=$(wrk_run batch post_batch.lua "$base/v1/events" "$batch_conns" GRIDS="$micros" RUN="batch$i-$$" BATCH="$batch")
        p1=$(head_now)
        appended=$((($(field requests <<<"$b") - $(field non2xx <<<"$b")) * batch))
        ((p1 - p0 >= appended)) || die "the log grew by $((p1 - p0)) but $appended events were answered 201"
        batch_bad+=("$(($(field non2xx <<<"$b") + $(field socket_errors <<<"$b")))")
        batch_r+=("$(calc "$appended / $(field seconds <<<"$b")" 0)") batch_p99+=("$(field p99_ms <<<"$b")")
        r=$("$bare_append" --from "$serve_db" --after "$p0" --to "$p1" --into "$bare_db" --batch "$batch")
        bare_r+=("$(field rows_per_s <<<"$r")")
        batch_ratio+=("$(calc "${batch_r[-1]} / ${bare_r[-1]}" 4)")
        batch_us+=("$(us_per "$b" "$batch")")
        say "  run $i: HTTP ${batch_r[-1]} events/s (p99 ${batch_p99[-1]} ms per request), bare SQLite ${bare_r[-1]} rows/s ($(field rows <<<"$r") rows); server CPU per event ${batch_us[-1]} µs"
    done
fi
hwm_end=$(hwm_kib)

# ------------------------------------------------------------------ profiles (not measured)
if [[ -n $perf_dir ]]; then
    mkdir -p "$perf_dir"
    flat() {
        perf report -i "$1" --no-children --sort dso,symbol -g none --percent-limit 0.5 --stdio 2>/dev/null |
            grep -v '^#' | grep -v '^$' | sed 's/  */ /g; s/ - - *$//' | cut -c1-200 | head -60 >"${1%.data}.txt"
        perf report -i "$1" --no-children --sort dso -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8 >>"${1%.data}.txt"
    }
    profile_server() { # NAME SCRIPT URL CONNECTIONS [VAR=VALUE...]
        local name=$1
        perf record -F 499 -q -o "$perf_dir/$name.data" -p "$server_pid" 2>/dev/null &
        perf_pid=$!
        wrk_run "perf-$name" "${@:2}" >/dev/null
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
        perf_pid=""
        flat "$perf_dir/$name.data"
    }
    say "profiling (perf record) into $perf_dir"
    if wants replay; then
        perf record -F 499 -q -o "$perf_dir/replay.data" -- "$gridloop" replay --db "$db" >/dev/null 2>&1
        flat "$perf_dir/replay.data"
        perf record -F 499 -q -o "$perf_dir/bare_read.data" -- "$bare_read" "$db" >/dev/null 2>&1
        flat "$perf_dir/bare_read.data"
    fi
    ! wants reads || profile_server stats get.lua "$base/v1/grids/$town/stats" "$conns"
    profile_server health get.lua "$base/healthz" "$conns"
    ! wants appends || profile_server post post_report.lua "$base/v1/events" "$conns" GRIDS="$micros" RUN="perf-$$"
    ! wants batches || profile_server batch post_batch.lua "$base/v1/events" "$batch_conns" GRIDS="$micros" RUN="perfbatch-$$" BATCH="$batch"
    say "profiles: $perf_dir/*.txt"
fi
stop_server
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ the table
met() { awk "BEGIN { print ($1) ? \"yes\" : \"**no**\" }"; }
mib() { calc "$1 / 1024" 0; }
r0() { calc "$(median "$@")" 0; }
r2() { calc "$(median "$@")" 2; }
m_replay=$(r2 "${replay_s[@]}") m_bare=$(r2 "${bare_s[@]}") m_replay_ratio=$(r2 "${replay_ratio[@]}")
m_replay_cpu=$(r2 "${replay_cpu[@]}") m_bare_cpu=$(r2 "${bare_cpu[@]}") m_replay_cpu_ratio=$(r2 "${replay_cpu_ratio[@]}")
m_startup=$(r2 "${startup_s[@]}") m_startup_cpu=$(r2 "${startup_cpu[@]}") m_startup_hwm=$(median "${startup_hwm[@]}")
m_health=$(r0 "${health_r[@]}") m_stats=$(r0 "${stats_r[@]}") m_stats_p99=$(r2 "${stats_p99[@]}") m_stats_ratio=$(r2 "${stats_ratio[@]}")
m_health_w=$(r0 "${health_w[@]}") m_post=$(r0 "${post_r[@]}") m_post_p99=$(r2 "${post_p99[@]}") m_post_ratio=$(r2 "${post_ratio[@]}")
m_batch=$(r0 "${batch_r[@]}") m_batch_p99=$(r2 "${batch_p99[@]}") m_bare_r=$(r0 "${bare_r[@]}") m_batch_ratio=$(r2 "${batch_ratio[@]}")
bad_posts=$(IFS=+; echo $((${post_bad[*]}))) bad_batches=$(IFS=+; echo $((${batch_bad[*]})))

{
    echo "log: $(basename "$db"), $head_position events, $cases cases ($town: $town_cases); run $(date -u '+%Y-%m-%d %H:%M UTC'), gridloop built $built, tree at $commit"
    echo "machine: $machine; load average $load_start at the start, $load_end at the end"
    echo "snapshots: ${snapshots:-none} (every $spacing events)"
    echo "runs: $runs pairs per ratio (wrk -t2, ${duration} s each)$(! wants replay || echo ", $replays of replay"), $startups start-ups; figures are medians, ratios medians of per-pair ratios${only:+; only $only}"
    echo
    echo "| item | figure | baseline | ratio | target | met? |"
    echo "|---|---|---|---|---|---|"
    ! wants appends || echo "| 1. durable single-event appends, $conns connections | $m_post 201/s, p99 $m_post_p99 ms ($bad_posts not 201) | /healthz $m_health_w req/s | $m_post_ratio | ≥ 0.5 | $(met "$m_post_ratio >= 0.5 && $bad_posts == 0") |"
    ! wants batches || echo "| 2. batched appends, $batch events per request, $batch_conns connections | $m_batch events/s, p99 $m_batch_p99 ms per request ($bad_batches not 201) | bare SQLite insert, transactions of $batch: $m_bare_r rows/s | $m_batch_ratio | ≥ 0.5 | $(met "$m_batch_ratio >= 0.5 && $bad_batches == 0") |"
    ! wants replay || echo "| 3. replay ($head_position events), wall time | $(calc "$head_position / $m_replay" 0) events/s ($m_replay s, peak RSS $(mib "$(median "${replay_rss[@]}")") MiB) | bare read of every row and byte: $(calc "$head_position / $m_bare" 0) rows/s ($m_bare s) | $m_replay_ratio | ≥ 0.25 | $(met "$m_replay_ratio >= 0.25") |"
    ! wants replay || echo "| 3. replay, CPU time (user + system) | $(calc "$head_position / $m_replay_cpu" 0) events/CPU-s ($m_replay_cpu s) | $(calc "$head_position / $m_bare_cpu" 0) rows/CPU-s ($m_bare_cpu s) | $m_replay_cpu_ratio | ≥ 0.25 | $(met "$m_replay_cpu_ratio >= 0.25") |"
    echo "| 4. start-up to the first 200 from /v1/grids/$town/stats | $m_startup s (CPU $m_startup_cpu s; from the snapshot at ${started_from:-none}) | — | — | ≤ 10 s (10M-event log) | $(met "$m_startup <= 10") |"
    ! wants reads || echo "| 5. reads: /v1/grids/$town/stats ($town_cases cases), $conns connections | $m_stats req/s, p99 $m_stats_p99 ms | /healthz $m_health req/s (p99 $(r2 "${health_p99[@]}") ms) | $m_stats_ratio | ≥ 0.5, p99 < 2 ms | $(met "$m_stats_ratio >= 0.5 && $m_stats_p99 < 2") |"
    ! wants reads || for line in "${sweep[@]}"; do
        read -r c sr s50 s99 hr h99 <<<"$line"
        echo "| 5. … the same at $c connections (one pair) | $sr req/s, p50 $s50 ms, p99 $s99 ms | /healthz $hr req/s (p99 $h99 ms) | $(calc "$sr / $hr" 2) | p99 < 2 ms | $(met "$s99 < 2") |"
    done
    echo "| 6. peak RSS of serve after start-up (VmHWM) | $(mib "$m_startup_hwm") MiB, $(calc "$m_startup_hwm * 1024 / $cases" 0) bytes per case | — | — | < 2 GiB (10M-event log) | $(met "$m_startup_hwm < 2097152") |"
    echo "| 6. … after reads / after as_of / after appends | $(mib "$hwm_reads") / $(mib "$hwm_asof") / $(mib "$hwm_end") MiB (RSS after as_of $(mib "$rss_asof") MiB) | — | — | — | — |"
    wants asof && for k in "${!asof_pos[@]}"; do
        labels=("10%" "50%" "90%" "the worst case: the end of the widest gap between snapshots") label=${labels[$k]}
        echo "| 7. as_of=${asof_pos[$k]} ($label), one request | ${asof_s[$k]} s (server CPU ${asof_cpu[$k]} s) | — | — | ≤ 10 s | $(met "${asof_s[$k]} <= 10") |"
    done
    echo
    ! wants replay || echo "per run: replay s ${replay_s[*]} (CPU ${replay_cpu[*]}) | bare read s ${bare_s[*]} (CPU ${bare_cpu[*]})"
    echo "per run: start-up s ${startup_s[*]}"
    ! wants reads || echo "per run: /healthz ${health_r[*]} (p99 ${health_p99[*]}) | stats ${stats_r[*]} (p99 ${stats_p99[*]})"
    ! wants appends || echo "per run: /healthz ${health_w[*]} (p99 ${health_w_p99[*]}) | POST ${post_r[*]} (p99 ${post_p99[*]})"
    ! wants batches || echo "per run: batch events/s ${batch_r[*]} | bare rows/s ${bare_r[*]}"
    [[ -z ${health_us[*]:-} ]] || echo "server CPU (medians): /healthz $(r0 "${health_us[@]}") µs per request$(! wants reads || echo ", stats $(r0 "${stats_us[@]}") µs per request")$(! wants appends || echo ", POST $(r0 "${post_us[@]}") µs per request")$(! wants batches || echo ", batches $(r0 "${batch_us[@]}") µs per event")"
} | tee "${out:-/dev/null}"

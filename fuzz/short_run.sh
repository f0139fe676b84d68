#!/usr/bin/env bash
# One short libFuzzer run for ctest: FUZZER SEEDS WORK SECONDS. The working corpus starts afresh
# from the seeds each time; a crashing input is kept as WORK/crash-* and printed in hex.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work"
mkdir -p "$work/corpus"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "$seeds" || status=$?
for f in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*; do
    [ -e "$f" ] || continue
    echo "kept $f:"
    od -A d -c "$f" | head -40
done
exit "$status"

#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite through ctest, the fuzz targets' short runs included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
# The fuzz targets (fuzz/): clang in a tree of their own holding only the libraries they link, then
# a short run of each as a ctest test there (GRIDLOOP_FUZZ_SECONDS, default 10).
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DGRIDLOOP_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target gridloop_fuzz
ctest --test-dir build-fuzz --output-on-failure -j"$(nproc)" || status=$?
# The main suite last, so that its summary is the run's closing line.
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900 || status=$?
exit "$status"

#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks, then configures and builds gridloop into build/.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ ccache libboost1.81-dev libsqlite3-dev sqlite3 nlohmann-json3-dev doctest-dev
          libssl-dev libhowardhinnant-date-dev tzdata
          libsimdjson-dev  # parses stored rows on the replay path and request bodies (events/stored.cpp)
          libjemalloc-dev  # the gridloop program's allocator (cli/CMakeLists.txt)
          chromium fonts-wqy-microhei  # the dashboard's browser test; a CJK font for its screenshots
          clang libclang-rt-14-dev llvm)  # the fuzz targets (libFuzzer, sanitizers) and llvm-symbolizer for their reports
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc)"

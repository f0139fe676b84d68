#!/usr/bin/env bash
# Sets everything up, builds the sample town into demo/gridloop-demo.db and shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p demo
exec ./build/cli/gridloop demo --db demo/gridloop-demo.db "$@"

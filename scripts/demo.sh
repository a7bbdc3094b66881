#!/usr/bin/env bash
# The main job on the bundled example events: message states, then suppressions.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p mailstate-sql --bin mailstate
bin="${CARGO_TARGET_DIR:-target}/debug/mailstate"
echo "# message states (one per message and recipient)"
"$bin" state examples/events.ndjson
echo
echo "# suppressions"
"$bin" suppressions examples/events.ndjson

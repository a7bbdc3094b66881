#!/usr/bin/env bash
# Build the npm package (scripts/build-js.sh) and run every JavaScript test:
#   - tsc --noEmit over a typed usage file (the package's .d.ts);
#   - the conformance vectors in Node (wasm/tests/node) and in workerd (wasm/tests/workerd);
#   - the edge worker example in workerd (examples/edge-worker/test).
# Needs Node 20+; npm dependencies are installed with `npm ci` only when node_modules is missing.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build-js.sh"

cd "$root/wasm"
echo "test-js: tsc" >&2
node node_modules/typescript/bin/tsc -p tests/types
echo "test-js: node and workerd conformance runners" >&2
node --test tests/node/*.test.mjs tests/workerd/*.test.mjs
echo "test-js: edge worker" >&2
node --test "$root"/examples/edge-worker/test/*.test.mjs

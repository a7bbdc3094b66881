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
# Every stage runs, so one report shows all failures; the exit status is non-zero if any failed.
# Each stage has a time limit: a workerd that cannot start left a runner waiting forever, which
# would hold CI until its own limit; now that stage fails after STAGE_LIMIT seconds (they take
# a few seconds each).
failed=0
limit="${STAGE_LIMIT:-600}"
stage() {
    echo "test-js: $1" >&2
    shift
    timeout --kill-after=10 "$limit" "$@" || {
        echo "test-js: FAILED (status $?; 124 is the ${limit} s limit)" >&2
        failed=1
    }
}
stage "tsc over the typed usage file" node node_modules/typescript/bin/tsc -p tests/types
stage "conformance vectors in Node and in workerd" \
    node --test tests/node/*.test.mjs tests/workerd/*.test.mjs
stage "edge worker in workerd" node --test "$root"/examples/edge-worker/test/*.test.mjs
exit "$failed"

#!/usr/bin/env bash
# Instructions (valgrind's Ir) one iteration of a criterion benchmark costs: load-independent,
# for before/after comparisons on a shared machine where wall times move too much.
#
#   scripts/bench-instructions.sh BENCH_BINARY GROUP/FUNCTION...
#
# BENCH_BINARY is a criterion bench executable (`cargo bench -p mailstate-core --bench
# normalize --no-run` prints its path). Criterion's --test mode runs each selected benchmark
# once, after building every group's input; the same run with a filter that selects nothing
# measures that setup, and is subtracted. Prints "name instructions" per benchmark.
set -euo pipefail
bin=$1
shift
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --test "$1" 2>&1 \
    | awk '/Collected/ { n = $NF } END { print n }'
}
setup=$(ir '^no benchmark has this name$')
for name in "$@"; do
  echo "$name $(( $(ir "^$name\$") - setup ))"
done

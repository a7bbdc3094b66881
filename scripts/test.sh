#!/usr/bin/env bash
# Every test of mailstate, in the order a failure is cheapest to read:
# formatting, lints, the native test suites (core laws, conformance vectors, CLI), then the
# wasm32 build of core (proof that core is pure).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "the wasm plugin (mailstate-host's tests and the Python example load it)"
scripts/build-wasm.sh

step "cargo test --workspace"
cargo test --workspace

step "Python: every vector through the plugin with the wasmtime PyPI package"
python3 -m pip install -q --disable-pip-version-check -r examples/python/requirements.txt
python3 -m unittest discover -s examples/python

step "mailstate-core builds for wasm32-unknown-unknown"
cargo build -q -p mailstate-core --target wasm32-unknown-unknown

step "all tests passed"

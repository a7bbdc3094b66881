#!/usr/bin/env bash
# Every test of mailstate, in the order a failure is cheapest to read: formatting and lints,
# the native suites (core laws, conformance vectors, CLI, the wasmtime host playing the
# plugin, the report page in Chromium), the Python package (python/), the wasm32 build of core
# (proof that core is pure), Python playing the plugin, and the JavaScript package in Node and
# workerd. Tools the tests need (the wasm32 target, PyPI packages, wasm-bindgen-cli, npm
# packages, Debian's chromium) are installed when
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "one DataFusion build: the CLI, the Python wheel and the tests resolve the same features"
scripts/feature-sets.sh

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p mailstate-wasm --features plugin --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p mailstate-wasm --features js --target wasm32-unknown-unknown -- -D warnings

step "cargo deny check licenses bans sources (deny.toml; offline)"
tools="${MAILSTATE_TOOLS:-$HOME/.cache/mailstate-tools}"
deny_version=0.19.8
if ! "$tools/bin/cargo-deny" --version 2>/dev/null | grep -qx "cargo-deny $deny_version"; then
  step "installing cargo-deny $deny_version into $tools"
  cargo install -q --locked cargo-deny --version "$deny_version" --root "$tools"
fi
# Offline, cargo-deny's `cargo metadata` needs every package of the lock file on disk, those of
# other platforms too, which the builds above never download: fetch them first (a fresh
# machine's CI failed here without it).
cargo fetch --locked -q
"$tools/bin/cargo-deny" --offline check licenses bans sources

step "mailstate-sql without its plugin feature depends on DataFusion and core only"
if cargo tree -p mailstate-sql --no-default-features -e normal --prefix none \
  | grep -E '^(clap|anyhow|indicatif|ureq|wasmtime|mailstate-host|ballista[a-z-]*|tonic) '; then
  echo "mailstate-sql --no-default-features pulls in the crates above" >&2
  exit 1
fi

step "docs of the library crates (rustdoc warnings are errors)"
RUSTDOCFLAGS=-Dwarnings cargo doc -q --no-deps --lib -p mailstate-core -p mailstate-host -p mailstate-wasm -p mailstate-sql -p mailstate-cluster -p mailstate-cli -p conformance

step "building the wasm plugin (mailstate-host's tests and the Python example load it)"
scripts/build-wasm.sh

if ! command -v chromium >/dev/null; then
  step "installing chromium (the report tests open mailstate report's page in headless Chromium)"
  apt-get update -qq && apt-get install -y -qq chromium
fi

step "cargo test --workspace"
cargo test --workspace

step "Python: pip install ./python (maturin, the workspace's dev build) into a venv outside the clone; pytest python/tests"
venv="${MAILSTATE_VENV:-$HOME/.cache/mailstate-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# Install the pinned test requirements only when one is missing or at another version.
if ! "$venv/bin/python" - python/requirements-test.txt <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        try:
            assert version(name) == want
        except (PackageNotFoundError, AssertionError):
            sys.exit(1)
PY
then
  "$venv/bin/python" -m pip install --quiet -r python/requirements-test.txt
fi
# No build isolation: the venv's pinned maturin builds the wheel; CARGO_TARGET_DIR is shared
# with the cargo steps above, so the wheel reuses their DataFusion (python/Cargo.toml). The
# maturin build backend runs the `maturin` executable from PATH.
PATH="$venv/bin:$PATH" "$venv/bin/python" -m pip install --quiet --no-build-isolation \
  --force-reinstall --no-deps ./python
MAILSTATE_CLI="${CARGO_TARGET_DIR:-$PWD/target}/debug/mailstate" \
  "$venv/bin/python" -m pytest -q python/tests

step "the SQL benchmark end to end on a small store: message_state, hand-written SQL in DataFusion and in DuckDB agree"
if ! python3 -c 'import duckdb' 2>/dev/null; then
  python3 -m pip install --quiet -r sql/bench/requirements.txt
fi
"${CARGO_TARGET_DIR:-target}/debug/mailstate" bench sql --events 20000 >/dev/null

step "mailstate-core builds for wasm32-unknown-unknown"
cargo build -q -p mailstate-core --target wasm32-unknown-unknown

step "Python plays every vector through the plugin (examples/python)"
if ! python3 -c 'import wasmtime' 2>/dev/null; then
  python3 -m pip install --quiet -r examples/python/requirements.txt
fi
python3 -m unittest discover -s examples/python

step "JavaScript: tsc, Node and workerd runners, the edge worker (scripts/test-js.sh)"
scripts/test-js.sh

step "all tests passed"

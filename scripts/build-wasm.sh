#!/usr/bin/env bash
# Build the wasm artifacts of mailstate.
#
#   scripts/build-wasm.sh            the plugin: wasm/dist/mailstate_plugin.wasm
#
# The plugin is the `plugin` feature of mailstate-wasm built for wasm32-unknown-unknown with
# the `wasm-plugin` profile (see the root Cargo.toml). mailstate-host's tests, its benchmark
# and examples/python load it from wasm/dist/mailstate_plugin.wasm (override with the
# MAILSTATE_PLUGIN environment variable).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

cargo build --manifest-path "$root/Cargo.toml" -p mailstate-wasm --features plugin \
  --target wasm32-unknown-unknown --profile wasm-plugin
mkdir -p "$root/wasm/dist"
cp "$target_dir/wasm32-unknown-unknown/wasm-plugin/mailstate_wasm.wasm" \
  "$root/wasm/dist/mailstate_plugin.wasm"
echo "plugin: $root/wasm/dist/mailstate_plugin.wasm ($(wc -c < "$root/wasm/dist/mailstate_plugin.wasm") bytes)"

#!/usr/bin/env bash
# Build the npm package of mailstate's rules into wasm/pkg/:
#   cargo (wasm32-unknown-unknown, feature js, profile wasm) -> wasm-bindgen --target web
#   -> wasm-opt -Os (binaryen from npm) -> hand-written entry points and package.json.
#
# Needs: rustup target wasm32-unknown-unknown, Node 20 + npm. Installs, only when missing,
# wasm-bindgen-cli (into $MAILSTATE_TOOLS, outside the clone) and wasm/node_modules (npm ci).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${MAILSTATE_TOOLS:-$HOME/.cache/mailstate-tools}"
# The CLI must equal the wasm-bindgen crate version (Cargo.toml pins =0.2.130).
bindgen_version="0.2.130"
pkg="$root/wasm/pkg"

if ! "$tools/bin/wasm-bindgen" --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen_version"; then
    echo "build-js: installing wasm-bindgen-cli $bindgen_version into $tools" >&2
    # No --locked: the CLI's lockfile pins a webpki-roots version some registries lack.
    cargo install wasm-bindgen-cli --version "$bindgen_version" --root "$tools"
fi
if [ ! -d "$root/wasm/node_modules" ]; then
    (cd "$root/wasm" && npm ci --no-audit --no-fund)
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
cargo build --manifest-path "$root/Cargo.toml" -p mailstate-wasm --features js \
    --target wasm32-unknown-unknown --profile wasm

rm -rf "$pkg"
mkdir -p "$pkg"
# --target web: ESM with init()/initSync(), the one output that runs in workerd (with the
# .wasm imported as a compiled module), Node, Deno and bundlers alike.
"$tools/bin/wasm-bindgen" --target web --out-dir "$pkg" --out-name mailstate \
    "$target_dir/wasm32-unknown-unknown/wasm/mailstate_wasm.wasm"

# The features Rust 1.95 enables by default for wasm32-unknown-unknown; -Os to match the
# profile's opt-level "s" (see the [profile.wasm] comment in Cargo.toml).
node "$root/wasm/node_modules/binaryen/bin/wasm-opt" -Os \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue --strip-debug --strip-producers \
    "$pkg/mailstate_bg.wasm" -o "$pkg/mailstate_bg.opt.wasm"
mv "$pkg/mailstate_bg.opt.wasm" "$pkg/mailstate_bg.wasm"

cp "$root/wasm/js/"* "$pkg/"
rm -f "$pkg/.gitignore"
raw=$(wc -c < "$pkg/mailstate_bg.wasm")
gz=$(gzip -9 -c "$pkg/mailstate_bg.wasm" | wc -c)
echo "build-js: $pkg/mailstate_bg.wasm $raw bytes, $gz gzipped" >&2

#!/usr/bin/env bash
# Check that `cargo build -p mailstate-cli` (the demo), `cargo build -p mailstate-python` (the
# wheel, through maturin) and `cargo test --workspace` build every shared dependency as the same
# unit (same features, on the host side too: build scripts and proc-macros unify their
# features apart), so DataFusion compiles once per profile. When this fails, add the named
# features as pins in cli/Cargo.toml or python/Cargo.toml (`[dependencies]` for a library
# unit, `[build-dependencies]` for a host one; see the comments there).
#
# It compares cargo's unit graphs (`--unit-graph`, an unstable flag read with
# RUSTC_BOOTSTRAP=1; it only plans, it builds nothing). A feature list per package (`cargo
# tree`) is not enough: it merges the host and library units, and a cold CI rebuilt all of
# DataFusion for the wheel while such a check passed.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
graph() {
  RUSTC_BOOTSTRAP=1 cargo "$@" -q -Z unstable-options --unit-graph
}
graph test --workspace --no-run >"$tmp/workspace"
graph build -p mailstate-cli >"$tmp/cli"
graph build -p mailstate-python >"$tmp/python"

python3 - "$tmp" <<'PY'
import json, sys

def units(path):
    out = {}
    for u in json.load(open(path))["units"]:
        profile = dict(u["profile"])
        profile.pop("name")  # `test` and `dev` build dependencies alike
        key = (u["pkg_id"], u["mode"], tuple(u["target"]["kind"]))
        out.setdefault(key, set()).add(
            (tuple(sorted(u["features"])), json.dumps(profile, sort_keys=True), u.get("platform"))
        )
    return out

d = sys.argv[1]
ws = units(f"{d}/workspace")
bad = 0
for build in ("cli", "python"):
    for key, variants in sorted(units(f"{d}/{build}").items()):
        pkg = key[0].split("#")[-1]
        # Our own crates may differ (mailstate-sql's `plugin`): they are cheap to rebuild.
        # Crates only one build uses (pyo3 for the wheel) have nothing to share.
        if pkg.startswith("mailstate") or key not in ws:
            continue
        for features, profile, platform in variants - ws[key]:
            bad += 1
            theirs = sorted(f for f, p, _ in ws[key] if p == profile)
            print(f"{build}: {pkg} ({key[1]} {'/'.join(key[2])}): features {list(features)}, "
                  f"the tests build {[list(f) for f in theirs]}")
sys.exit(1 if bad else 0)
PY
echo "unit graphs agree: the CLI, the wheel and the workspace tests share one DataFusion build"

#!/usr/bin/env bash
# Check that `cargo build -p mailstate-cli` (the demo), `cargo build -p mailstate-python` (the
# wheel, through maturin) and `cargo test --workspace` resolve every shared dependency with
# the same features, so DataFusion compiles once per profile. When this fails, add the named
# features as pins in cli/Cargo.toml or python/Cargo.toml (see the comments there).
set -euo pipefail
cd "$(dirname "$0")/.."

features() {
  cargo tree -q "$@" -f '{p} {f}' --prefix none | sed 's/ (\*)//; s/ (proc-macro)//' | sort -u
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
features --workspace -e normal,build,dev >"$tmp/workspace"
features -p mailstate-cli -e normal,build >"$tmp/cli"
features -p mailstate-python -e normal,build >"$tmp/python"

python3 - "$tmp" <<'PY'
import re, sys
def load(path):
    out = {}
    for line in open(path):
        m = re.match(r"(\S+) (v\S+)(?: \([^)]*\))?(?: (\S*))?$", line.strip())
        if m:
            out.setdefault(f"{m[1]} {m[2]}", set()).update(f for f in (m[3] or "").split(",") if f)
    return out
d = sys.argv[1]
ws = load(f"{d}/workspace")
bad = 0
for build in ("cli", "python"):
    for pkg, feats in sorted(load(f"{d}/{build}").items()):
        # Our own crates may differ (mailstate-sql's `plugin`): they are cheap to rebuild.
        if pkg.startswith("mailstate-") or pkg not in ws or feats == ws[pkg]:
            continue
        bad += 1
        print(f"{build}: {pkg}: missing {sorted(ws[pkg] - feats)}, extra {sorted(feats - ws[pkg])}")
sys.exit(1 if bad else 0)
PY
echo "feature sets agree: the CLI, the wheel and the workspace tests share one DataFusion build"

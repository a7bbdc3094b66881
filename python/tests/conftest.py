"""Shared helpers: the repository's vectors and the `mailstate` CLI the workspace built."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


def cli_path() -> Path | None:
    """The `mailstate` binary: $MAILSTATE_CLI, else the workspace's dev build."""
    if os.environ.get("MAILSTATE_CLI"):
        return Path(os.environ["MAILSTATE_CLI"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    found = target / "debug" / "mailstate"
    if found.exists():
        return found
    which = shutil.which("mailstate")
    return Path(which) if which else None


@pytest.fixture(scope="session")
def cli() -> Path:
    path = cli_path()
    if path is None:
        pytest.fail("no mailstate CLI (build it with `cargo build -p mailstate-cli`)")
    return path


def run_cli(cli: Path, *args: str, stdin: bytes | None = None) -> list[dict]:
    out = subprocess.run([str(cli), *args], input=stdin, capture_output=True, check=True)
    return [json.loads(line) for line in out.stdout.decode().splitlines() if line.strip()]


TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def iso(v):
    """A value as DESIGN.md's JSON writes it (times: RFC 3339, 3 fractional digits, Z)."""
    if isinstance(v, str) and TIME.match(v):
        v = datetime.fromisoformat(v.replace("Z", "+00:00"))
    if isinstance(v, datetime):
        v = v.astimezone(timezone.utc)
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    return v


def rows(table) -> list[dict]:
    return [{k: iso(v) for k, v in r.items()} for r in table.to_pylist()]


def vectors(area: str) -> list[Path]:
    return sorted((VECTORS / area).rglob("*.json"))

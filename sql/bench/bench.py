#!/usr/bin/env python3
"""Benchmark message state three ways on the same Parquet events, one process per run.

1. `message_state` GROUP BY in DataFusion (the `mailstate sql` release binary);
2. the same state written by hand in DataFusion SQL (message_state_handwritten.sql);
3. the same hand-written SQL in DuckDB (the `duckdb` Python package).

Each query is wrapped in a checksum over every state column, so every engine computes every
field and prints one row; the rows must agree. Wall time is measured around the child
process; peak memory is the child's maximum resident set size (os.wait4).

Usage: bench.py --events DIR [--mailstate target/release/mailstate] [--repeat N]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHECKSUM = """
SELECT COUNT(*) AS states,
       COUNT(DISTINCT status) AS statuses,
       SUM(CASE WHEN terminal THEN 1 ELSE 0 END) AS terminal,
       COUNT(terminal_at) AS terminal_at, COUNT(first_event_at) AS first_event_at,
       COUNT(last_event_at) AS last_event_at, COUNT(accepted_at) AS accepted_at,
       COUNT(delivered_at) AS delivered_at, COUNT(first_open_at) AS first_open_at,
       COUNT(first_click_at) AS first_click_at, COUNT(bounced_at) AS bounced_at,
       COUNT(complained_at) AS complained_at, COUNT(unsubscribed_at) AS unsubscribed_at,
       SUM(open_count) AS opens, SUM(click_count) AS clicks, SUM(deferred_count) AS deferrals,
       SUM(event_count) AS events, SUM(late_event_count) AS late,
       COUNT(bounce_class) AS bounce_class, COUNT(diagnostic) AS diagnostic
FROM ({query}) AS s
"""

DUCKDB_CHILD = r"""
import sys, duckdb
events, sql = sys.argv[1], open(sys.argv[2]).read()
con = duckdb.connect()
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{events}/*/*.parquet', hive_partitioning = true)")
rel = con.execute(sql)
names = [d[0] for d in rel.description]
row = rel.fetchone()
print(",".join(names))
print(",".join("" if v is None else str(int(v)) for v in row))
"""


def query(name):
    text = (HERE / name).read_text()
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    return CHECKSUM.format(query=body.strip().rstrip(";"))


def timed(argv):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        out = os.open(OUT_PATH, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        err = os.open(ERR_PATH, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(err, 2)
        os.execvp(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    out = Path(OUT_PATH).read_text()
    if status != 0:
        sys.exit(f"{argv[0]} failed ({status}): {Path(ERR_PATH).read_text()}")
    return wall, usage.ru_maxrss / 1024, out  # ru_maxrss is KiB on Linux


def main():
    global OUT_PATH, ERR_PATH
    p = argparse.ArgumentParser()
    p.add_argument("--events", required=True, type=Path, help="store folder (has events/)")
    p.add_argument("--mailstate", default="target/release/mailstate")
    p.add_argument("--python", default=sys.executable, help="a Python with duckdb installed")
    p.add_argument("--repeat", type=int, default=1)
    a = p.parse_args()
    events = a.events / "events" if (a.events / "events").is_dir() else a.events
    tmp = Path(tempfile.mkdtemp(prefix="mailstate-bench-"))
    OUT_PATH, ERR_PATH = str(tmp / "out"), str(tmp / "err")
    files = {}
    for key, name in [("udaf", "message_state_udaf.sql"), ("hand", "message_state_handwritten.sql")]:
        files[key] = tmp / f"{key}.sql"
        files[key].write_text(query(name))
    child = tmp / "duck.py"
    child.write_text(DUCKDB_CHILD)
    runs = [
        ("message_state (DataFusion UDAF)",
         [a.mailstate, "sql", "--events", str(a.events), "-f", str(files["udaf"]), "--format", "csv"]),
        ("hand-written SQL (DataFusion)",
         [a.mailstate, "sql", "--events", str(a.events), "-f", str(files["hand"]), "--format", "csv"]),
        ("hand-written SQL (DuckDB)",
         [a.python, str(child), str(events), str(files["hand"])]),
    ]
    results = []
    for label, argv in runs:
        best = None
        for _ in range(a.repeat):
            wall, rss, out = timed(argv)
            if best is None or wall < best[0]:
                best = (wall, rss, out)
        results.append((label, *best))
        print(f"{label}: {best[0]:.2f} s, peak RSS {best[1]:.0f} MiB", file=sys.stderr)
    base = results[0][1]
    print("| engine | wall time (s) | vs message_state | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    for label, wall, rss, _ in results:
        print(f"| {label} | {wall:.2f} | {wall / base:.2f}x | {rss:.0f} |")
    checks = [r[3].strip().splitlines()[-1] for r in results]
    print()
    print("checksum row (states, statuses, terminal, ... every field):")
    for (label, *_), c in zip(results, checks):
        print(f"- {label}: {c}")
    if len(set(checks)) != 1:
        sys.exit("the engines disagree")
    print("all engines agree")


if __name__ == "__main__":
    main()

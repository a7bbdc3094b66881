#!/usr/bin/env python3
"""Message states from Parquet events in one Python process: mailstate.message_states on a
DuckDB relation, against DuckDB running the hand-written state SQL on the same relation,
and against the `mailstate sql` CLI (a child process) running message_state over the files.

Usage: message_states.py STORE [MAILSTATE_CLI]

STORE is a folder with events/day=YYYY-MM-DD/*.parquet (`mailstate generate --out STORE`).
Peak RSS is measured per variant: this process's peak is reset before each in-process run
(/proc/self/clear_refs, Linux), the CLI's is its own (wait4). Every variant must give the
same number of states, events and late events. Prints a Markdown table (BENCHMARKS.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.compute as pc

import mailstate

ROOT = Path(__file__).resolve().parents[2]


def hwm_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def reset_peak() -> float:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return hwm_mb()


def checksum(table) -> tuple:
    return (
        table.num_rows,
        pc.sum(table["event_count"]).as_py(),
        pc.sum(table["late_event_count"]).as_py(),
    )


def in_process(name, run):
    base = reset_peak()
    start = time.perf_counter()
    cpu = time.process_time()
    table = run()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    sums = checksum(table)
    del table
    return name, wall, cpu, hwm_mb(), hwm_mb() - base, sums


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    store = Path(sys.argv[1])
    pattern = str(store / "events" / "*" / "*.parquet")
    con = duckdb.connect()
    rel = con.read_parquet(pattern, hive_partitioning=True)
    rel.create_view("events")
    handwritten = (ROOT / "sql" / "bench" / "message_state_handwritten.sql").read_text()
    rows = con.sql("SELECT count(*) FROM events").fetchall()[0][0]

    results = [
        in_process("`mailstate.message_states(relation)`", lambda: mailstate.message_states(rel)),
        in_process(
            "DuckDB: `message_state_handwritten.sql` on the same relation",
            lambda: con.sql(handwritten).to_arrow_table(),
        ),
    ]
    if len(sys.argv) == 3:
        udaf = ROOT / "sql" / "bench" / "message_state_udaf.sql"
        query = (
            "SELECT count(*) AS states, sum(event_count) AS events, "
            f"sum(late_event_count) AS late FROM ({udaf.read_text()}) AS s"
        )
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.argv[2], "sql", "--events", str(store), "--format", "csv", query],
            stdout=subprocess.PIPE,
        )
        out = child.stdout.read().decode()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        assert status == 0, out
        states, events, late = (int(v) for v in out.splitlines()[1].split(","))
        results.append((
            "`mailstate sql -f sql/bench/message_state_udaf.sql` (child process)",
            wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, None,
            (states, events, late),
        ))

    sums = {r[5] for r in results}
    assert len(sums) == 1, results
    print(f"{rows:,} event rows, {results[0][5][0]:,} states, {results[0][5][1]:,} distinct "
          f"events; duckdb {duckdb.__version__}, mailstate {mailstate.__version__}\n")
    print("| variant | wall s | CPU s | peak RSS MB | RSS growth MB |")
    print("|---|---:|---:|---:|---:|")
    for name, wall, cpu, peak, grew, _ in results:
        grown = "" if grew is None else f"{grew:,.0f}"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {peak:,.0f} | {grown} |")


if __name__ == "__main__":
    main()

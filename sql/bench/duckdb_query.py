#!/usr/bin/env python3
"""Run one SQL file in DuckDB over a mailstate event store and print the result as CSV.

Usage: duckdb_query.py EVENTS_DIR SQL_FILE

EVENTS_DIR is a store's events/ folder (day=YYYY-MM-DD/*.parquet, as `mailstate ingest` and
`mailstate generate` write it); it is registered as the view `events`. The time DuckDB spent
on the query itself is printed on stderr. `mailstate bench sql` runs this script as its DuckDB
variant; install DuckDB with `python3 -m pip install -r sql/bench/requirements.txt`.
"""

import csv
import sys
import time

import duckdb


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    events, sql_file = sys.argv[1], sys.argv[2]
    with open(sql_file, encoding="utf-8") as f:
        sql = f.read()
    con = duckdb.connect()
    pattern = f"{events}/*/*.parquet".replace("'", "''")
    con.execute(
        f"CREATE VIEW events AS SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)"
    )
    start = time.perf_counter()
    cur = con.execute(sql)
    rows = cur.fetchall()
    seconds = time.perf_counter() - start
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(d[0] for d in cur.description)
    for row in rows:
        out.writerow("" if v is None else v for v in row)
    print(f"duckdb {duckdb.__version__}: query {seconds:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

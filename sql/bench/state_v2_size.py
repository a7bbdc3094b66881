# The size of the version-2 partial-state encoding of a store's message states, computed in
# DuckDB from the layout in MessageState::encode's docs (BENCHMARKS.md, issue 15). Usage:
#   python3 sql/bench/state_v2_size.py STORE   -> [(states, distinct events, v2 bytes)]
import duckdb, sys
d = sys.argv[1]
q = f"""
WITH e AS (
  SELECT DISTINCT message_id, recipient, event_key, type, occurred_at,
         CASE WHEN type IN ('hard_bounce','soft_bounce') THEN diagnostic END AS diag
  FROM read_parquet('{d}/events/*/*.parquet', hive_partitioning=true)
  WHERE message_id IS NOT NULL
), per_event AS (
  -- version 2: key (u32 + bytes), type, optional time (1 + 8), class, optional diagnostic
  -- (1, or 1 + u32 + bytes), automated, category
  SELECT message_id, recipient,
         4 + octet_length(encode(event_key)) + 1 + 1 + CASE WHEN occurred_at IS NULL THEN 0 ELSE 8 END
           + 1 + CASE WHEN diag IS NULL THEN 1 ELSE 5 + octet_length(encode(diag)) END + 1 + 1 AS b
  FROM e
)
SELECT COUNT(*) AS states, SUM(n) AS events, SUM(7 + bytes) AS v2_bytes FROM (
  SELECT message_id, recipient, COUNT(*) AS n, SUM(b) AS bytes FROM per_event GROUP BY ALL)
"""
print(duckdb.sql(q).fetchall())

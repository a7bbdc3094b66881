"""mailstate.datafusion: the SQL functions in datafusion-python, equal to `mailstate sql`."""

from __future__ import annotations

import json
import subprocess

import datafusion
import pyarrow as pa
import pytest

import mailstate
import mailstate.datafusion
from conftest import ROOT, iso, rows, run_cli

QUERY = """
SELECT message_id, recipient,
       message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
FROM events
GROUP BY message_id, recipient
ORDER BY message_id, recipient
"""


@pytest.fixture(scope="module")
def store(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("store")
    subprocess.run([str(cli), "generate", "--messages", "3000", "--out", str(out)],
                   check=True, capture_output=True)
    return out


def context(store):
    ctx = datafusion.SessionContext()
    mailstate.datafusion.register(ctx)
    ctx.register_parquet("events", str(store / "events"), table_partition_cols=[("day", pa.string())])
    return ctx


def flat(r: dict) -> dict:
    """A row with the struct's fields inlined; NULLs left out, as the CLI's NDJSON does."""
    s = r.pop("s")
    return {k: iso(v) for k, v in {**r, **s}.items() if v is not None}


def test_message_state_sql_equals_the_cli(cli, store):
    got = [flat(r) for r in context(store).sql(QUERY).to_arrow_table().to_pylist()]
    want = run_cli(cli, "sql", "--events", str(store), "--format", "ndjson", QUERY)
    assert len(got) > 1000
    assert got == [flat(r) for r in want]


def test_message_state_sql_equals_message_states(store, cli):
    ctx = context(store)
    by_sql = [flat(r) for r in ctx.sql(QUERY).to_arrow_table().to_pylist()]
    by_fn = mailstate.message_states(ctx.table("events").to_arrow_table())
    assert by_sql == [{k: v for k, v in r.items() if v is not None} for r in rows(by_fn)]


def test_scalar_and_suppression_functions(store, cli):
    q = """SELECT recipient, recipient_suppressions(type, occurred_at, stream, event_key) AS s,
                  max(event_rank(type)) AS top, bool_or(is_terminal(type)) AS t
           FROM events WHERE recipient IS NOT NULL GROUP BY recipient ORDER BY recipient"""
    got = context(store).sql(q).to_arrow_table().to_pylist()
    want = run_cli(cli, "sql", "--events", str(store), "--format", "ndjson", q)
    norm = lambda r: {**r, "s": [{k: iso(v) for k, v in x.items()} for x in r["s"]]}  # noqa: E731
    assert [norm(r) for r in got] == [norm(r) for r in want]


def test_a_datafusion_of_another_major_is_refused(monkeypatch):
    monkeypatch.setattr(datafusion, "__version__", "54.1.0")
    with pytest.raises(mailstate.MailstateError) as e:
        mailstate.datafusion.register(datafusion.SessionContext())
    assert e.value.code == "unsupported"
    assert "54.1.0" in str(e.value) and mailstate.datafusion.BUILT_WITH in str(e.value)

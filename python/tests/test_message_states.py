"""The reduce vectors through message_states from pyarrow, DuckDB and Polars, equal to the
vectors' expected output and to `mailstate state`."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import mailstate
from conftest import rows, run_cli, vectors

REDUCE = vectors("reduce")


def load(path):
    case = json.loads(path.read_text())
    return case, case["input"]["events"]


def as_arrow(events: list[dict]) -> pa.Table:
    # Only the canonical columns a vector names, as the vector gives them (times as text).
    keys = list(dict.fromkeys(k for e in events for k in e))
    events = [{k: e.get(k) for k in keys} for e in events]
    return pa.Table.from_pylist(events) if events else pa.table(
        {c: pa.array([], pa.string()) for c in ["message_id", "recipient", "type", "event_key"]}
    )


def sources(table: pa.Table):
    yield "pyarrow", table
    yield "duckdb", duckdb.from_arrow(table)
    yield "polars", pl.from_arrow(table)


@pytest.mark.parametrize("path", REDUCE, ids=[p.stem for p in REDUCE])
def test_reduce_vector(path, cli):
    case, events = load(path)
    table = as_arrow(events)
    expect = case["expect"]
    for name, source in sources(table):
        if "error" in expect:
            with pytest.raises(mailstate.MailstateError) as e:
                mailstate.message_states(source)
            assert e.value.code == expect["error"]["code"], (path, name, str(e.value))
            continue
        got = rows(mailstate.message_states(source))
        assert got == expect["output"], (path, name)
    if "output" in expect:
        ndjson = "".join(json.dumps(e) + "\n" for e in events).encode()
        assert rows(mailstate.message_states(table)) == run_cli(cli, "state", stdin=ndjson)


def test_timestamp_column_equals_rfc3339_text():
    _, events = load(next(p for p in REDUCE if p.stem == "click-before-delivered"))
    text = as_arrow(events)
    times = pa.compute.cast(text["occurred_at"], pa.timestamp("ms", tz="UTC"))
    typed = text.set_column(text.schema.get_field_index("occurred_at"), "occurred_at", times)
    naive_ns = typed.set_column(
        typed.schema.get_field_index("occurred_at"),
        "occurred_at",
        pa.compute.cast(times, pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("ns")),
    )
    want = mailstate.message_states(text)
    assert mailstate.message_states(typed).equals(want)
    assert mailstate.message_states(naive_ns).equals(want)


def test_output_types():
    t = mailstate.message_states(
        pa.table({"message_id": ["m"], "recipient": ["r@example.com"], "type": ["open"],
                  "event_key": ["k"], "occurred_at": ["2025-11-03T10:00:00Z"]})
    )
    assert t.schema.field("first_open_at").type == pa.timestamp("ms", tz="UTC")
    assert t.schema.field("open_count").type == pa.int64()
    assert t.column_names[:3] == ["message_id", "recipient", "status"]


def test_pandas_through_pyarrow():
    df = pa.table({"message_id": ["m", "m"], "recipient": ["r", "r"], "type": ["delivered", "open"],
                   "event_key": ["a", "b"], "occurred_at": ["2025-11-03T10:00:00Z"] * 2}).to_pandas()
    assert mailstate.message_states(df).column("status").to_pylist() == ["open"]


def test_batch_size_slices_and_asks_duckdb_for_small_batches():
    _, events = load(next(p for p in REDUCE if p.stem == "groups-by-message-and-recipient"))
    table = as_arrow(events)
    want = mailstate.message_states(table)
    for source in (table, duckdb.from_arrow(table), pl.from_arrow(table)):
        assert mailstate.message_states(source, batch_size=1).equals(want)
    with pytest.raises(mailstate.MailstateError) as e:
        mailstate.message_states(table, batch_size=0)
    assert e.value.code == "invalid_value"

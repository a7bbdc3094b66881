"""normalize, verify (the signature vectors), suppressions, help texts."""

from __future__ import annotations

import base64
import json
import pydoc

import pyarrow as pa
import pytest

import mailstate
from conftest import ROOT, rows, run_cli, vectors

SIGNATURES = vectors("signature")
# Vectors that leave out `now` pin the wire op's own rule (core has no clock, so `now` is
# required there); Python's verify fills it with the current time instead, tested below.
WITHOUT_NOW = [p for p in SIGNATURES if "now" not in json.loads(p.read_text())["input"]]
SIGNATURES = [p for p in SIGNATURES if p not in WITHOUT_NOW]


@pytest.mark.parametrize("path", SIGNATURES, ids=[f"{p.parent.name}/{p.stem}" for p in SIGNATURES])
def test_signature_vector(path):
    case = json.loads(path.read_text())
    i, expect = case["input"], case["expect"]
    body = base64.b64decode(i["body_base64"]) if "body_base64" in i else i.get("body", "")
    try:
        r = mailstate.verify(
            i["provider"], body, i.get("headers"),
            secrets=i.get("secrets"), keys=i.get("keys"), url=i.get("url"), now=i["now"],
            tolerance=i.get("tolerance_secs"), token_header=i.get("token_header"),
            seen_tokens=i.get("seen_tokens"), form=i.get("form"), scheme=i.get("scheme"),
            trust_anchors=i.get("trust_anchors"),
        )
    except mailstate.MailstateError as e:
        assert "error" in expect, (path, e)
        assert e.code == expect["error"]["code"], (path, str(e))
        return
    if "error" in expect:
        assert not r.ok and r.reason == expect["error"]["code"], (path, r)
    else:
        assert r.ok, (path, r)
        assert r.scheme == expect["output"]["scheme"]
        assert r.key_index == expect["output"]["key_index"]


def test_verify_without_now_uses_the_current_time():
    # The wire vector expects `missing_field` for these requests; Python's verify supplies the
    # clock instead, so the same (validly signed, timestamp-free) request verifies.
    assert WITHOUT_NOW, "the corpus has a vector without `now`"
    for path in WITHOUT_NOW:
        i = json.loads(path.read_text())["input"]
        assert json.loads(path.read_text())["expect"] == {"error": {"code": "missing_field"}}
        r = mailstate.verify(i["provider"], i.get("body", ""), i.get("headers"), secrets=i.get("secrets"))
        assert r.ok and r.reason is None, (path, r)


def test_normalize_gives_the_canonical_schema_and_feeds_message_states(cli):
    payload = ROOT / "examples" / "payloads" / "postmark-spam-complaint.json"
    t = mailstate.normalize("auto", payload.read_bytes())
    assert "event_key" in t.column_names and t.schema.field("occurred_at").type == pa.timestamp("ms", tz="UTC")
    want = run_cli(cli, "normalize", "--provider", "auto", str(payload))
    assert [r["event_key"] for r in rows(t)] == [e["event_key"] for e in want]
    states = mailstate.message_states(t)
    assert states.num_rows == len({(e.get("message_id"), e.get("recipient")) for e in want})


def test_normalize_errors_carry_the_code():
    with pytest.raises(mailstate.MailstateError) as e:
        mailstate.normalize("sendgrid", b"{not json")
    assert e.value.code == "invalid_json"
    with pytest.raises(mailstate.MailstateError) as e:
        mailstate.normalize("carrier-pigeon", b"[]")
    assert e.value.code == "unknown_provider"


def test_suppressions_equal_the_cli(cli):
    events_file = ROOT / "examples" / "events.ndjson"
    lines = [json.loads(l) for l in events_file.read_text().splitlines() if l.strip()]
    table = pa.Table.from_pylist(lines).drop_columns(
        [c for c in ["tags", "metadata"] if c in pa.Table.from_pylist(lines).column_names]
    )
    assert rows(mailstate.suppressions(table)) == run_cli(cli, "suppressions", str(events_file))
    narrow = {"complaint": "stream"}
    policy = ROOT / "python" / "tests" / "_policy.json"
    policy.write_text(json.dumps(narrow))
    try:
        want = run_cli(cli, "suppressions", "--policy", str(policy), str(events_file))
    finally:
        policy.unlink()
    assert rows(mailstate.suppressions(table, narrow)) == want


def test_help_explains_inputs_outputs_with_an_example():
    text = pydoc.render_doc(mailstate.message_states, renderer=pydoc.plaintext)
    for needle in ["__arrow_c_stream__", "occurred_at", "timestamp[ms, tz=UTC]", "Example", ">>> "]:
        assert needle in text


def test_docstring_examples_run():
    import doctest

    import mailstate.datafusion

    for mod in (mailstate, mailstate.datafusion):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, mod

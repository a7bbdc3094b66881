"""Bad input is a MailstateError naming the column and the type it expects; never a crash."""

from __future__ import annotations

import pyarrow as pa
import pytest

import mailstate


def events(**override):
    cols = {
        "message_id": ["m1"],
        "recipient": ["ann@example.com"],
        "type": ["delivered"],
        "event_key": ["ses:1"],
        "occurred_at": ["2025-11-03T10:00:00Z"],
    }
    cols.update(override)
    return pa.table({k: v for k, v in cols.items() if v is not None})


def raises(table_or_obj, code):
    with pytest.raises(mailstate.MailstateError) as e:
        mailstate.message_states(table_or_obj)
    assert e.value.code == code, str(e.value)
    return str(e.value)


def test_missing_required_column_is_named():
    msg = raises(events(type=None), "missing_field")
    assert "`type`" in msg and "text" in msg


def test_missing_group_column_is_named():
    assert "`recipient`" in raises(events(recipient=None), "missing_field")


def test_missing_optional_columns_are_null():
    t = mailstate.message_states(events(occurred_at=None))
    assert t.column("first_event_at").to_pylist() == [None]


def test_wrong_type_names_column_and_expected_type():
    msg = raises(events(event_key=[5]), "type_mismatch")
    assert msg == "column `event_key` must be text, found Int64"


def test_wrong_time_type_names_the_accepted_types():
    msg = raises(events(occurred_at=[1.5]), "type_mismatch")
    assert "`occurred_at`" in msg and "timestamp or RFC 3339 text" in msg


def test_time_text_that_is_not_rfc3339():
    assert "`occurred_at`" in raises(events(occurred_at=["yesterday"]), "type_mismatch")


def test_null_event_key_is_missing():
    assert "`event_key`" in raises(events(event_key=pa.array([None], pa.string())), "missing_field")


def test_unknown_event_type_is_invalid_value():
    assert "bounced" in raises(events(type=["bounced"]), "invalid_value")


@pytest.mark.parametrize("obj", [[{"type": "open"}], {"type": ["open"]}, 42, None])
def test_non_arrow_object(obj):
    msg = raises(obj, "type_mismatch")
    assert "__arrow_c_stream__" in msg


def test_bad_policy():
    with pytest.raises(mailstate.MailstateError) as e:
        mailstate.suppressions(events(), {"complaint": "sometimes"})
    assert e.value.code == "invalid_policy"

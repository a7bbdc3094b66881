"""mailstate: email delivery events to message state, over Arrow.

The rules of mailstate (one Rust core: canonical events, precedence, dedupe by ``event_key``,
suppression) for analysts in Python. Event tables come in through the Arrow PyCapsule
interface (``__arrow_c_stream__``): a pyarrow Table or RecordBatchReader, a DuckDB relation,
a Polars DataFrame, a pandas DataFrame (through pyarrow). Results are pyarrow Tables.

- :func:`message_states`: one state per (message_id, recipient)
- :func:`suppressions`: the active suppressions of every recipient
- :func:`normalize`: a provider's webhook body to canonical events
- :func:`verify`: a webhook request's signature or credentials
- :mod:`mailstate.datafusion`: ``message_state`` and friends as datafusion-python SQL functions

Errors are :class:`MailstateError`, whose ``code`` is core's stable error code.
Column names and meanings are those of ``core/DESIGN.md``.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from ._error import MailstateError
from . import _mailstate

__all__ = [
    "MailstateError",
    "VerifyResult",
    "message_states",
    "normalize",
    "suppressions",
    "verify",
    "__version__",
]

__version__: str = _mailstate.__version__

_STATE_COLUMNS, _SUPPRESSION_COLUMNS = _mailstate.event_columns()


def _stream(events: Any, columns: Sequence[str], batch_size: Optional[int]) -> Any:
    """The object to read an Arrow stream from: only the columns the rules read.

    Projection happens in the producer where it is cheap (DuckDB reads fewer columns, Polars
    and pyarrow select without copying); a DuckDB relation is asked for batches of
    ``batch_size`` rows. Anything else with ``__arrow_c_stream__`` is read as it is.
    """
    module = type(events).__module__.split(".")[0]
    if module == "pandas":
        import pyarrow as pa

        events = pa.Table.from_pandas(events, preserve_index=False)
        module = "pyarrow"
    if module == "duckdb" and hasattr(events, "project") and hasattr(events, "columns"):
        present = [c for c in columns if c in events.columns]
        rel = events.project(", ".join(f'"{c}"' for c in present)) if present else events
        if batch_size is not None:
            # DuckDB 1.4+ names it to_arrow_reader; older releases fetch_arrow_reader.
            reader = getattr(rel, "to_arrow_reader", None) or getattr(rel, "fetch_arrow_reader")
            return reader(batch_size)
        return rel
    if module == "polars" and hasattr(events, "select") and hasattr(events, "columns"):
        present = [c for c in columns if c in events.columns]
        return events.select(present) if present else events
    if module == "pyarrow" and hasattr(events, "select") and hasattr(events, "column_names"):
        present = [c for c in columns if c in events.column_names]
        return events.select(present) if present else events
    if not hasattr(events, "__arrow_c_stream__"):
        raise MailstateError(
            "type_mismatch",
            "events must export an Arrow stream (__arrow_c_stream__: a pyarrow Table or "
            "RecordBatchReader, a DuckDB relation, a Polars DataFrame, a pandas DataFrame), "
            f"found {type(events).__module__}.{type(events).__qualname__}",
        )
    return events


def message_states(events: Any, *, batch_size: Optional[int] = None) -> "pyarrow.Table":  # noqa: F821
    """One message state per (message_id, recipient), computed from canonical events.

    Input: ``events`` is anything that exports an Arrow stream (``__arrow_c_stream__``): a
    pyarrow Table or RecordBatchReader, a DuckDB relation, a Polars DataFrame; a pandas
    DataFrame is converted with pyarrow. Columns are read by name (core/DESIGN.md):

    ==============  ==========================================================
    column          type
    ==============  ==========================================================
    message_id      text (required; NULL groups as its own message)
    recipient       text (required; NULL groups as its own recipient)
    type            text, a canonical type (required, never NULL)
    event_key       text (required, never NULL): duplicates count once
    occurred_at     timestamp (any unit; no zone means UTC) or RFC 3339 text
    bounce_class    text: hard, soft, block, undetermined (optional)
    diagnostic      text (optional)
    ==============  ==========================================================

    Other columns are ignored; optional columns may be missing. The input is read batch by
    batch (``batch_size`` rows at most per step; a DuckDB relation is asked for batches of
    that size), so a table larger than memory streams: only the states are held.

    Output: a ``pyarrow.Table`` with one row per state, sorted by (message_id, recipient),
    the columns ``message_id``, ``recipient`` and every state field of DESIGN.md in its
    order: ``status``, ``terminal``, ``terminal_at``, ``first_event_at``, ``last_event_at``,
    ``accepted_at`` ... ``unsubscribed_at`` (``timestamp[ms, tz=UTC]``), ``open_count``,
    ``click_count``, ``deferred_count``, ``event_count``, ``late_event_count`` (int64),
    ``bounce_class``, ``diagnostic``. The same states as ``mailstate state``.

    Raises :class:`MailstateError`: ``missing_field`` for a missing required column or a
    NULL ``type``/``event_key``, ``type_mismatch`` for a column of the wrong type or an
    object that is not an Arrow stream (the message names the column and the type it
    expects), ``invalid_value`` for a type or bounce class outside the canonical names.

    Example::

        >>> import pyarrow as pa, mailstate
        >>> events = pa.table({
        ...     "message_id": ["m1", "m1", "m1"],
        ...     "recipient": ["ann@example.com"] * 3,
        ...     "type": ["delivered", "hard_bounce", "open"],
        ...     "event_key": ["ses:d1", "ses:b1", "ses:o1"],
        ...     "occurred_at": ["2025-11-03T10:00:00Z", "2025-11-03T10:00:05Z",
        ...                     "2025-11-03T12:00:00Z"],
        ... })
        >>> s = mailstate.message_states(events)
        >>> s.select(["message_id", "status", "event_count", "late_event_count"]).to_pylist()
        [{'message_id': 'm1', 'status': 'hard_bounce', 'event_count': 3, 'late_event_count': 1}]

    With DuckDB: ``mailstate.message_states(duckdb.read_parquet("events/**/*.parquet"))``;
    with Polars: ``mailstate.message_states(pl.read_parquet(path))``.
    """
    if batch_size is not None and batch_size < 1:
        raise MailstateError("invalid_value", f"batch_size must be at least 1, found {batch_size}")
    return _mailstate.message_states(_stream(events, _STATE_COLUMNS, batch_size), batch_size)


def suppressions(
    events: Any,
    policy: Union[None, str, bytes, Mapping[str, Any]] = None,
    *,
    batch_size: Optional[int] = None,
) -> "pyarrow.Table":  # noqa: F821
    """The active suppressions of every recipient in canonical events.

    ``events`` is read as in :func:`message_states`, from the columns ``recipient``
    (required; events without a recipient suppress no one), ``type``, ``event_key``,
    ``occurred_at`` and ``stream`` (optional). ``policy`` is the suppression policy as a dict
    or JSON text (every field optional), the same data as ``mailstate suppressions --policy``::

        {"hard_bounce": "all", "complaint": "all" | "stream" | "off",
         "unsubscribe": "stream" | "all" | "off",
         "soft_bounce": {"count": 3, "window_secs": 604800} | None}

    Returns a ``pyarrow.Table`` with one row per suppression, sorted by recipient, scope and
    reason: ``recipient``, ``scope`` (``all`` or ``stream:S``), ``reason``, ``since``
    (``timestamp[ms, tz=UTC]``) and ``event_key``.

    Raises :class:`MailstateError` as :func:`message_states` does, and ``invalid_policy``.

    Example::

        >>> import pyarrow as pa, mailstate
        >>> events = pa.table({"recipient": ["bob@example.com"], "type": ["hard_bounce"],
        ...                    "event_key": ["ses:b1"], "occurred_at": ["2025-11-03T20:01:00Z"]})
        >>> mailstate.suppressions(events).select(["recipient", "scope", "reason"]).to_pylist()
        [{'recipient': 'bob@example.com', 'scope': 'all', 'reason': 'hard_bounce'}]
    """
    if isinstance(policy, Mapping):
        policy = json.dumps(dict(policy))
    elif isinstance(policy, bytes):
        policy = policy.decode("utf-8")
    return _mailstate.suppressions(
        _stream(events, _SUPPRESSION_COLUMNS, batch_size), policy, batch_size
    )


def normalize(
    provider: str,
    body: Union[bytes, str],
    headers: Union[None, Mapping[str, str], Iterable[tuple[str, str]]] = None,
) -> "pyarrow.Table":  # noqa: F821
    """A provider's payload (webhook body, events-API page, export) to canonical events.

    ``provider`` is a provider slug (``sendgrid``, ``ses``, ``mailgun``, ``postmark``, ...)
    or ``auto`` (detected from the headers and body). ``body`` is the bytes exactly as
    received; ``headers`` the request headers, if any. Returns a ``pyarrow.Table`` of the
    canonical event schema (``mailstate_sql::event_schema``: ``event_key``, ``provider``,
    ``type``, ``occurred_at`` as ``timestamp[ms, tz=UTC]``, ..., ``tags``, ``metadata``,
    ``raw``), one row per event, ready for :func:`message_states`.

    Raises :class:`MailstateError` (``unknown_provider``, ``invalid_json``,
    ``type_mismatch``, ...) when the payload, or any element of it, is malformed.

    Example::

        >>> import mailstate
        >>> body = (b'[{"email":"ann@example.com","event":"delivered","sg_event_id":"e1",'
        ...         b'"sg_message_id":"m1.filter","timestamp":1762164000}]')
        >>> mailstate.normalize("sendgrid", body).select(["event_key", "type"]).to_pylist()
        [{'event_key': 'sendgrid:e1', 'type': 'delivered'}]
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    return _mailstate.normalize(provider, body, headers)


class VerifyResult:
    """The outcome of :func:`verify`.

    ``ok`` is True when the request is authentic; otherwise ``reason`` is core's code for
    why not (``signature_mismatch``, ``stale_timestamp``, ``missing_header``, ...) and
    ``message`` says more. On success ``scheme``, ``key_index`` (which of the secrets or keys
    matched), ``timestamp`` and ``token`` describe what was checked.
    """

    __slots__ = ("ok", "reason", "message", "scheme", "key_index", "timestamp", "token")

    def __init__(
        self,
        ok: bool,
        reason: Optional[str],
        message: Optional[str],
        scheme: Optional[str],
        key_index: Optional[int],
        timestamp_ms: Optional[int],
        token: Optional[str],
    ) -> None:
        from datetime import timezone

        self.ok = ok
        self.reason = reason
        self.message = message
        self.scheme = scheme
        self.key_index = key_index
        self.timestamp = (
            None
            if timestamp_ms is None
            else datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc)
        )
        self.token = token

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok:
            return f"VerifyResult(ok=True, scheme={self.scheme!r}, key_index={self.key_index})"
        return f"VerifyResult(ok=False, reason={self.reason!r}, message={self.message!r})"


def verify(
    provider: str,
    body: Union[bytes, str],
    headers: Union[None, Mapping[str, str], Iterable[tuple[str, str]]],
    *,
    secrets: Optional[Sequence[Union[str, bytes]]] = None,
    keys: Optional[Sequence[str]] = None,
    url: Optional[str] = None,
    now: Union[None, int, float, datetime] = None,
    tolerance: Optional[int] = None,
    token_header: Optional[str] = None,
    seen_tokens: Optional[Iterable[str]] = None,
    form: Union[None, Mapping[str, str], Iterable[tuple[str, str]]] = None,
    scheme: Optional[str] = None,
    trust_anchors: Optional[Sequence[str]] = None,
) -> VerifyResult:
    """Check a webhook request's signature or credentials, as ``mailstate verify`` does.

    ``secrets`` are shared secrets (HMAC keys, basic-auth or token credentials), ``keys``
    public keys as PEM or base64 text (SendGrid ECDSA, SNS RSA); any one may match. ``url``
    is the URL the provider called (Mandrill signs it). ``now`` is the time to check
    timestamps against (unix seconds or an aware datetime; default: the current time) and
    ``tolerance`` the allowed clock skew in seconds (default 300). ``token_header`` names
    the header a shared token arrives in (Brevo, Postmark); ``seen_tokens`` are replay
    tokens already accepted (Mailgun: a repeat is ``replay``); ``form`` is the decoded
    form body when the framework already parsed it (Mandrill); ``trust_anchors`` are the CA
    certificates (PEM) signing certificates must be issued by (Scaleway's
    sns-trust-chain.pem). ``scheme="standard_webhooks"`` verifies as Standard Webhooks
    (``webhook-*`` headers; ``whsec_`` secrets, ``whpk_`` keys) instead of the provider's own
    scheme, for a sender that adopted it (Loops and AhaSend use it without being asked).

    Returns a :class:`VerifyResult`: ``.ok``, and ``.reason`` (a code) when rejected. Raises
    :class:`MailstateError` when the request cannot be checked at all (``unknown_provider``,
    ``unsupported``, a malformed key).

    Example::

        >>> import mailstate
        >>> r = mailstate.verify("postmark", b"{}", {"Authorization": "Basic Zm9vOmJhcg=="},
        ...                      secrets=["foo:bar"])
        >>> (r.ok, r.reason)
        (True, None)
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if now is None:
        now_ms = int(time.time() * 1000)
    elif isinstance(now, datetime):
        if now.tzinfo is None:
            raise MailstateError("invalid_value", "now must be an aware datetime (with a tz)")
        now_ms = int(now.timestamp() * 1000)
    else:
        now_ms = int(float(now) * 1000)
    raw = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in (secrets or [])]
    if isinstance(form, Mapping):
        form = list(form.items())
    if scheme not in (None, "standard_webhooks"):
        raise MailstateError("invalid_value", f"scheme {scheme!r}: expected 'standard_webhooks'")
    return VerifyResult(
        *_mailstate.verify(
            provider, body, headers, raw, list(keys or []), url, now_ms, tolerance,
            token_header, list(seen_tokens or []), None if form is None else list(form),
            scheme == "standard_webhooks",
            list(trust_anchors or []),
        )
    )

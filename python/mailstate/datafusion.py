"""mailstate's SQL functions in datafusion-python.

:func:`register` adds ``message_state``, ``recipient_suppressions``, ``event_rank`` and
``is_terminal`` (the functions of ``mailstate sql``, native rules) to a
``datafusion.SessionContext``. They cross into datafusion-python through ``datafusion-ffi``
capsules, whose ABI holds only within one DataFusion major version: the installed
``datafusion`` package must have the major version these functions were built against.
"""

from __future__ import annotations

from typing import Any

from ._error import MailstateError
from . import _mailstate

__all__ = ["BUILT_WITH", "register"]

#: The DataFusion version mailstate's functions were built against.
BUILT_WITH: str = _mailstate.datafusion_version()


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def register(ctx: Any) -> None:
    """Register mailstate's SQL functions in a datafusion-python ``SessionContext``.

    After it, SQL on ``ctx`` can call ``message_state(type, occurred_at, event_key
    [, bounce_class [, diagnostic]])``, ``recipient_suppressions(type, occurred_at, stream,
    event_key [, policy_json])``, ``event_rank(type)`` and ``is_terminal(type)``, exactly as
    ``mailstate sql`` does (``sql/README.md``).

    Raises :class:`~mailstate.MailstateError` (code ``unsupported``) when the installed
    ``datafusion`` package's major version differs from :data:`BUILT_WITH`'s: the FFI
    between them is not stable across majors, and a mismatch would crash the process.

    Example::

        >>> import datafusion, pyarrow as pa, mailstate.datafusion
        >>> ctx = datafusion.SessionContext()
        >>> mailstate.datafusion.register(ctx)
        >>> ctx.from_arrow(pa.table({"type": ["click", "delivered"]}), name="e")  # doctest: +ELLIPSIS
        DataFrame()...
        >>> ctx.sql("SELECT max(event_rank(type)) AS r FROM e").to_pylist()
        [{'r': 6}]
    """
    try:
        import datafusion
    except ImportError as e:  # pragma: no cover - exercised without datafusion installed
        raise MailstateError(
            "unsupported",
            f"mailstate.datafusion needs the datafusion package ({BUILT_WITH} major): "
            f"pip install 'datafusion=={_major(BUILT_WITH)}.*' ({e})",
        ) from e
    installed = getattr(datafusion, "__version__", "unknown")
    if _major(installed) != _major(BUILT_WITH):
        raise MailstateError(
            "unsupported",
            f"the installed datafusion is {installed}, but mailstate's functions were built "
            f"against DataFusion {BUILT_WITH}: their FFI is only compatible within one major "
            f"version; install datafusion=={_major(BUILT_WITH)}.*",
        )
    aggregates, scalars = _mailstate.sql_functions()
    for f in aggregates:
        ctx.register_udaf(datafusion.udaf(f))
    for f in scalars:
        ctx.register_udf(datafusion.udf(f))

"""The one exception type of mailstate."""

from __future__ import annotations


class MailstateError(Exception):
    """A mailstate error: bad input, an unsupported request, or a failed check.

    ``code`` is core's stable snake_case code (``missing_field``, ``type_mismatch``,
    ``invalid_value``, ``unknown_provider``, ...), the same on every surface of mailstate
    (CLI, JavaScript ``Error.code``, the wasm plugin, the conformance vectors).
    """

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __repr__(self) -> str:
        return f"MailstateError({self.code!r}, {str(self)!r})"

"""The native module (Rust, pyo3). Use the wrappers in :mod:`mailstate` instead."""

from typing import Any, Iterable, Mapping, Optional, Union

import pyarrow

__version__: str

def message_states(events: Any, batch_size: Optional[int] = None) -> pyarrow.Table: ...
def suppressions(
    events: Any, policy_json: Optional[str] = None, batch_size: Optional[int] = None
) -> pyarrow.Table: ...
def normalize(
    provider: str,
    body: bytes,
    headers: Union[None, Mapping[str, str], Iterable[tuple[str, str]]] = None,
) -> pyarrow.Table: ...
def verify(
    provider: str,
    body: bytes,
    headers: Union[None, Mapping[str, str], Iterable[tuple[str, str]]],
    secrets: list[bytes],
    keys: list[str],
    url: Optional[str],
    now_ms: int,
    tolerance: Optional[int],
    token_header: Optional[str],
    seen_tokens: list[str],
    form: Optional[list[tuple[str, str]]],
    standard_webhooks: bool = False,
    trust_anchors: list[str] = ...,
) -> tuple[
    bool, Optional[str], Optional[str], Optional[str], Optional[int], Optional[int], Optional[str]
]: ...

class AggregateFunction:
    @property
    def name(self) -> str: ...
    def __datafusion_aggregate_udf__(self, *args: Any) -> object: ...

class ScalarFunction:
    @property
    def name(self) -> str: ...
    def __datafusion_scalar_udf__(self, *args: Any) -> object: ...

def sql_functions() -> tuple[list[AggregateFunction], list[ScalarFunction]]: ...
def datafusion_version() -> str: ...
def event_columns() -> tuple[list[str], list[str]]: ...

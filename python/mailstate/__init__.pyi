from datetime import datetime
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import pyarrow

from ._error import MailstateError as MailstateError

__version__: str

_Headers = Union[None, Mapping[str, str], Iterable[tuple[str, str]]]

def message_states(events: Any, *, batch_size: Optional[int] = None) -> pyarrow.Table: ...
def suppressions(
    events: Any,
    policy: Union[None, str, bytes, Mapping[str, Any]] = None,
    *,
    batch_size: Optional[int] = None,
) -> pyarrow.Table: ...
def normalize(provider: str, body: Union[bytes, str], headers: _Headers = None) -> pyarrow.Table: ...

class VerifyResult:
    ok: bool
    reason: Optional[str]
    message: Optional[str]
    scheme: Optional[str]
    key_index: Optional[int]
    timestamp: Optional[datetime]
    token: Optional[str]
    def __bool__(self) -> bool: ...

def verify(
    provider: str,
    body: Union[bytes, str],
    headers: _Headers,
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
) -> VerifyResult: ...

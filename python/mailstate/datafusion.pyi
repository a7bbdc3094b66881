from typing import Any

BUILT_WITH: str

def register(ctx: Any) -> None: ...

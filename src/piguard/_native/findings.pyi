from collections.abc import Callable
from typing import Any

SOURCE_HASH: str

def split(
    found: list[tuple[int, int, str, float]],
    offsets: list[int],
    lo: int,
    hi: int,
    base: int,
    out: list[list[Any]],
    finding_type: type,
    conf: Callable[[float], float],
    memo: dict[float, float],
    /,
) -> None: ...

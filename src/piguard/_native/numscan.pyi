from collections.abc import Callable
from typing import Any

SOURCE_HASH: str

def run(
    scan: Any,
    folded: str,
    spans: list[int],
    at: list[Any],
    colon: list[Any],
    plate: list[Any],
    heads: str,
    shortest: int,
    numtab: list[tuple[tuple[int, Any, Any, str], ...]],
    dotted: tuple[tuple[int, Any, Any, str], ...],
    score: Callable[..., float],
    run_anchor: Callable[..., None],
    cluster_py: Callable[..., None],
    datetime_fullmatch: Callable[[str], Any],
    out: list[tuple[int, int, str, float]],
    /,
) -> None: ...
def anchors(
    hits: list[tuple[int, int, int]],
    trig: list[tuple[int, ...]],
    calls: list[Any],
    words: list[str],
    scan: Any,
    out: list[tuple[int, int, str, float]],
    /,
) -> None: ...

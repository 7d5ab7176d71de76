from typing import Any

SOURCE_HASH: str

def score(
    hits: list[tuple[int, int, int]],
    ends: list[int],
    ctx_of: list[frozenset[str]],
    neg_of: list[frozenset[str]],
    window: int,
    params_of: dict[Any, tuple[str, bool, float, float]],
    fallback: Any,
    rec: Any,
    start: int,
    end: int,
    conf: float,
    /,
) -> float: ...

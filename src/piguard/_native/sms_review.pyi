from typing import Any

SOURCE_HASH: str

def normalize(text: str, bitmap: bytes, table: dict[int, str], /) -> str | None: ...
def utf8_span(text: str, start: int, end: int, /) -> tuple[int, int] | None: ...
def verdict_score(plan: tuple[object, ...], cats: dict[str, float], /) -> float | None: ...
def split_runs(text: str, /) -> list[str]: ...
def categories(
    fired: tuple[int, ...], scores: list[float], signal: dict[int, tuple[str, float]], /
) -> dict[str, float]: ...
def signal_entries(
    fired: tuple[int, ...],
    scores: list[float],
    signal: dict[int, tuple[str, float]],
    static: dict[int, tuple[str, tuple[str, ...]]],
    hits: list[list[object]],
    wanted: set[str],
    round: object,
    /,
) -> dict[str, list[dict[str, object]]]: ...
def contains_any(text: str, terms: tuple[str, ...], /) -> bool: ...
def pinyin_found(
    fired: tuple[int, ...], hits: list[list[object]], pinyin: frozenset[str], /
) -> list[str]: ...
def run_patterns(
    run: set[int],
    reported: set[int] | None,
    gated: list[bool],
    patterns: list[tuple[int, float, object, str]],
    text: str,
    to_bytes: bool,
    raw: dict[int, list[tuple[int, int, float, str]]],
    found: object = None,
    /,
) -> None: ...
def collect(
    found: list[tuple[int, int]] | Matches,
    values: list[tuple[object, ...]],
    subject: bytes | str,
    raw: dict[int, list[tuple[int, int, float, str]]],
    run: set[int],
    /,
) -> tuple[dict[int, list[tuple[int, int]]] | None, set[int] | None]: ...
def consolidate(
    raw: dict[int, list[tuple[int, int, float, str]]],
    exempt: dict[int, list[tuple[int, int]]] | None,
    names: list[str],
    scores: list[float],
    hits: list[list[object]],
    hit_type: type,
    /,
) -> None: ...

class Matches:
    found: list[tuple[int, int]]
    reported: set[int]
    def __init__(self, nkeys: int, /) -> None: ...
    def __call__(self, id: int, start: int, end: int, flags: int, context: object, /) -> None: ...
    def __len__(self) -> int: ...

class Automaton:
    states: int
    def __init__(
        self,
        keys: list[str],
        nkeys: int,
        factor_slots: list[tuple[int, int]],
        slot_masks: list[int],
        slot_runs: list[int],
        digit_slot: int,
        /,
    ) -> None: ...
    def scan(self, text: str, /) -> Matches: ...

class Maker:
    def __call__(self, *values: object) -> Any: ...

def slot_maker(cls: type, names: tuple[str, ...], /) -> Maker: ...

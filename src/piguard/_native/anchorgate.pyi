SOURCE_HASH: str

def gate(
    hits: list[tuple[int, int, int]], kinds: bytes, text: str, table: bytes, /
) -> list[tuple[int, int, int]]: ...

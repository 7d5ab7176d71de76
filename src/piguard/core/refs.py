"""References piguard makes for its own records (message refs, batch refs, tokens of state).

``new_ref()`` is 128 random bits in lower-case base32 (RFC 4648: ``a``-``z`` and ``2``-``7``), 26
characters. The alphabet has no ``0``, ``1``, ``8`` or ``9`` and no ``.``, ``@`` or ``-``, so a reference
can never hold a mobile number (``1…``), a landline (``0…``), a resident ID (its birth date needs
``19``/``20``), an e-mail or an IP address: the log redactor and the audit log's PI guard leave it as
it is, and a reference written into an audit entry still matches its record. (Hex references, the
earlier form, held a 12-digit run about one time in fifteen and came back as ``2b[redacted]aa38…``.)
"""

from __future__ import annotations

import os

#: the RFC 4648 base32 alphabet, lower case, two characters per entry: 10 bits a lookup
_PAIRS = tuple(a + b for a in "abcdefghijklmnopqrstuvwxyz234567" for b in "abcdefghijklmnopqrstuvwxyz234567")
_SHIFTS = tuple(range(120, -1, -10))


def new_ref() -> str:
    """``base64.b32encode(os.urandom(16))`` lower-cased without its padding, by table (the standard
    library's base32 is pure Python in 3.11: ~1.6x the time, and the gateway makes one per message)."""
    n = int.from_bytes(os.urandom(16), "big") << 2  # 128 bits padded to 26 x 5
    return "".join([_PAIRS[(n >> s) & 1023] for s in _SHIFTS])


def new_refs(n: int) -> list[str]:
    """``n`` references of the form of :func:`new_ref` (128 random bits each, lower-case RFC 4648
    base32), their random bytes read in one ``os.urandom`` call: a batch's writer makes one per
    message, and the system call was a third of each reference's cost. Nothing is kept between
    calls (a pool of random bytes would be shared by the processes a server forks)."""
    if n <= 0:
        return []
    raw = os.urandom(16 * n)
    from_bytes, pairs, shifts = int.from_bytes, _PAIRS, _SHIFTS
    out = []
    for i in range(0, 16 * n, 16):
        m = from_bytes(raw[i : i + 16], "big") << 2  # 128 bits padded to 26 x 5
        out.append("".join([pairs[(m >> s) & 1023] for s in shifts]))
    return out


#: Largest id a BIGINT column holds (PostgreSQL's and SQLite's 64-bit signed integers).
_MAX_ROW_ID = 2**63 - 1


def as_row_id(value: object) -> int | None:
    """``value`` as a database row id, or None when it is not one: ASCII digits only (``str.isdigit``
    also accepts ``²`` and other digits ``int()`` refuses) and within a BIGINT."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_ROW_ID else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 19 or not text.isascii() or not text.isdigit():
        return None
    n = int(text)
    return n if n <= _MAX_ROW_ID else None

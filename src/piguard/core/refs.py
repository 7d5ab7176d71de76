"""References piguard makes for its own records (message refs, batch refs, tokens of state).

``new_ref()`` is 128 random bits in lower-case base32 (RFC 4648: ``a``-``z`` and ``2``-``7``), 26
characters. The alphabet has no ``0``, ``1``, ``8`` or ``9`` and no ``.``, ``@`` or ``-``, so a reference
can never hold a mobile number (``1…``), a landline (``0…``), a resident ID (its birth date needs
``19``/``20``), an e-mail or an IP address: the log redactor and the audit log's PI guard leave it as
it is, and a reference written into an audit entry still matches its record. (Hex references, the
earlier form, held a 12-digit run about one time in fifteen and came back as ``2b[redacted]aa38…``.)
"""

from __future__ import annotations

import base64
import os


def new_ref() -> str:
    return base64.b32encode(os.urandom(16)).decode("ascii").rstrip("=").lower()


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

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

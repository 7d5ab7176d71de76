"""JSON logs (structlog) that cannot carry personal information in clear.

By construction: every string that reaches a log line passes through :func:`redact`, which masks
anything that looks like a mobile or landline number, resident ID, bank card, e-mail or IP address;
keys that name PI fields (``phone``, ``name``, ``password``…) are dropped to ``[redacted]`` whatever
their value. (O24-10, CSL-40)
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from piguard.regulations.markers import carries

_PI_PATTERNS = [
    # e-mail first: its local part may hold digits
    re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"),
    # resident ID (18 with X, or 15 digits)
    re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])|(?<![0-9])[1-9][0-9]{14}(?![0-9])"),
    # bank cards and any long digit run (12+ digits, spaces/dashes allowed)
    re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9]){11,22}(?![0-9])"),
    # mobile (+86 optional), CJK-adjacent safe because we use digit look-arounds not \b
    re.compile(r"(?:\+?86[ \-]?)?(?<![0-9])1[3-9][0-9](?:[ \-]?[0-9]){8}(?![0-9])"),
    # landline 0xx-xxxxxxx
    re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}[ \-]?[0-9]{7,8}(?![0-9])"),
    # IPv4, except loopback and the unspecified address (where a server listens, not who a user is)
    re.compile(r"(?<![0-9.])(?!127\.|0\.0\.0\.0(?![0-9.]))(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9.])"),
]
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")

#: A message digest written in hex (MD5, SHA-1, SHA-224/256/384/512: 32 to 128 characters, one case,
#: at least one letter) is a hash, not a number: about one SHA-256 in fifteen holds a 12-digit run,
#: which the card pattern would mask, so an evidence bundle's hash came back as ``…6f[redacted]eac…``
#: in its audit entry. Only whole tokens of exactly a digest's length are kept.
_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{32,128}|[0-9A-F]{32,128})(?![0-9A-Za-z])")
_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})
_HEX_LETTERS = frozenset("abcdefABCDEF")

PI_KEYS = frozenset(
    {
        "phone",
        "mobile",
        "msisdn",
        "name",
        "full_name",
        "id_card",
        "id_number",
        "address",
        "email",
        "password",
        "passwd",
        "bank_card",
        "card",
        "birth_date",
        "text",
        "content",
        "body",
        "recipient",
        "token",
        "secret",
        "authorization",
        "cookie",
    }
)


@carries("O24-10", "CSL-40", "NPC-3")
def redact(value: str) -> str:
    """Mask every PI-looking span in ``value`` (full-width digits are folded first)."""
    folded = value.translate(_FULLWIDTH_DIGITS)
    digests = _digests(folded) if len(folded) >= 32 else ()
    if not digests:
        return _mask(folded)
    out, at = [], 0
    for start, end in digests:
        out.append(_mask(folded[at:start]))
        out.append(folded[start:end])
        at = end
    out.append(_mask(folded[at:]))
    return "".join(out)


def _mask(text: str) -> str:
    for pattern in _PI_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def _digests(text: str) -> list[tuple[int, int]]:
    """Spans of hex message digests in ``text`` (see :data:`_DIGEST`)."""
    return [
        m.span()
        for m in _DIGEST.finditer(text)
        if len(m.group()) in _DIGEST_LENGTHS and not _HEX_LETTERS.isdisjoint(m.group())
    ]


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in PI_KEYS:
        return "[redacted]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_value(key, v) for v in value]
    return redact(repr(value))


def redact_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    return {
        k: (v if k in ("level", "timestamp", "logger") else _redact_value(k, v))
        for k, v in event_dict.items()
    }


class _RedactingFilter(logging.Filter):
    """Stdlib records (uvicorn, sqlalchemy, libraries) are redacted too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("sqlalchemy.engine") and record.levelno < logging.INFO:
            return False  # result-row dumps: table contents, never for logs
        try:
            msg = record.getMessage()
        except Exception:  # a malformed format string must not break logging
            msg = str(record.msg)
        record.msg = redact(msg)
        record.args = ()
        return True


_configured = False


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    global _configured
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(ensure_ascii=False),
            foreign_pre_chain=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Libraries' chatter (Alembic's plugin set-up, httpx requests) stays out of operators' stderr.
    for noisy in ("alembic", "httpx", "multipart"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(name: str = "piguard") -> Any:
    if not _configured:
        configure_logging()
    return structlog.get_logger(name)

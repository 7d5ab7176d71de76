"""The bulk-operation package (O24-13.3): AES-GCM encryption under a per-request key wrapped by a
key-encryption key, reading and scanning the CSV (the discovery engine's PI summary), and the
per-recipient row order that watermarks every download. Used by :mod:`piguard.oversight.bulk`."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
from typing import Any

from piguard.core.config import get_settings
from piguard.core.errors import FieldError, PiguardError
from piguard.core.reasons import Reason
from piguard.discovery.scanners import profile_rows
from piguard.oversight.bulk_models import BulkRequest
from piguard.regulations.markers import carries

OBLIGATION = "O24-13.3"
KEY_VERSION = "v1"
#: Not regulatory numbers: limits that keep one request a sane size for a web request.
MAX_ROWS = 200_000
MAX_CSV_BYTES = 50_000_000


def _err(
    code: str,
    en: str,
    zh: str,
    *,
    status: int = 409,
    obligations: tuple[str, ...] = (OBLIGATION,),
    field: str | None = None,
    detail: dict[str, Any] | None = None,
) -> PiguardError:
    reason = Reason(code, obligations, en, zh, detail or {})
    return PiguardError(
        code,
        en,
        zh,
        obligations=obligations,
        fields=[FieldError(field, f"{en} / {zh}")] if field else [],
        reasons=(reason,),
        http_status=status,
        exit_code=1,
    )


def _bad(field: str, en: str, zh: str) -> PiguardError:
    return _err("validation_error", f"Invalid {field}: {en}", f"{field} 无效：{zh}", status=422, field=field)


# ------------------------------------------------------------------ encryption (AES-GCM)


def _kek(version: str) -> bytes:
    if version != KEY_VERSION:
        raise _err("bulk_key_unknown", f"Unknown key version {version!r}.", f"未知密钥版本 {version!r}。")
    secret = get_settings().field_key.encode("utf-8")
    return hmac.new(secret, b"piguard.bulk.kek." + version.encode(), hashlib.sha256).digest()


def _seal(data: bytes, ref: str) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = AESGCM.generate_key(bit_length=256)
    nonce, key_nonce = os.urandom(12), os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, data, ref.encode())
    wrapped = key_nonce + AESGCM(_kek(KEY_VERSION)).encrypt(key_nonce, key, b"bulk-key:" + ref.encode())
    return sealed, wrapped


def _key(req: BulkRequest) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if req.wrapped_key is None:
        raise _err(
            "bulk_package_erased",
            "The package's key was erased: the data can no longer be read.",
            "数据包密钥已销毁，数据无法再读取。",
            status=410,
        )
    w = bytes(req.wrapped_key)
    return AESGCM(_kek(req.key_version or KEY_VERSION)).decrypt(
        w[:12], w[12:], b"bulk-key:" + req.ref.encode()
    )


def _open(req: BulkRequest) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = _key(req)
    if req.sealed is None:
        raise _err("bulk_no_data", "This request holds no data.", "该申请不含数据。", status=409)
    s = bytes(req.sealed)
    return AESGCM(key).decrypt(s[:12], s[12:], req.ref.encode())


def _shred(req: BulkRequest) -> None:
    """Crypto-shredding: the key and the ciphertext go; the summary and the decisions stay."""
    req.wrapped_key = None
    req.sealed = None


# ------------------------------------------------------------------ reading and scanning the data


def parse_csv(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV export (UTF-8 text, first line the header)."""
    if not isinstance(text, str):
        raise _bad("data", "must be CSV text", "须为 CSV 文本")
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise _bad("data", f"larger than {MAX_CSV_BYTES} bytes", f"超过 {MAX_CSV_BYTES} 字节")
    try:
        table = [row for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if row]
    except csv.Error as exc:
        raise _bad("data", f"not valid CSV ({exc})", "不是有效的 CSV") from None
    if len(table) < 2:
        raise _bad("data", "needs a header line and at least one row", "须包含表头与至少一行数据")
    header, rows = table[0], table[1:]
    if len(rows) > MAX_ROWS:
        raise _bad("data", f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
    return header, rows


@carries(OBLIGATION, "O24-4")
def pi_summary(header: list[str], rows: list[list[str]]) -> dict[str, Any]:
    """The discovery engine's PI summary of a table: per category the cells found, per column its
    categories. Counts and category codes only: no value ever leaves this function."""
    verdicts = profile_rows("export", "", header, rows, sample=max(len(rows), 1))
    totals: dict[str, int] = {}
    columns = []
    for i, v in enumerate(verdicts):
        cats = [c.category for c in v.categories]
        for c in v.categories:
            totals[c.category] = totals.get(c.category, 0) + c.cells
        columns.append({"index": i, "column": f"column_{i + 1}", "categories": cats})
    return {"rows": len(rows), "categories": dict(sorted(totals.items())), "columns": columns}


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _marker_key(req: BulkRequest) -> bytes:
    return hmac.new(_key(req), b"piguard.bulk.watermark", hashlib.sha256).digest()


def _order(key: bytes, recipient: str, n: int) -> list[int]:
    """The row order keyed to ``recipient``: a permutation only the package key reproduces."""
    tag = recipient.encode("utf-8")
    return sorted(
        range(n), key=lambda i: hmac.new(key, tag + b"\x00" + str(i).encode(), hashlib.sha256).digest()
    )

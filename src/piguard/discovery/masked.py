"""Masked values: cells that once held PI and now show only part of it (``138****5678``, ``张*``,
``6222 **** **** 5678``, ``z***@qq.com``, ``******``). A column of them is stored de-identified
(O24-10): it is reported as *masked*, never as PI in clear, and it cannot serve as a subject key
(no request can be matched against ``138****5678``).

The category of a masked cell comes from its shape (length and the characters left in clear, the
way ``deid.mask_value`` and the usual masking rules keep them) or, when the shape says nothing, from
the column's name (``mobile``, ``身份证号``).
"""

from __future__ import annotations

import re

from piguard.discovery.validators import card_brand, fold
from piguard.regulations.markers import carries

# characters that stand for hidden ones; x/X only in runs of two or more between digits
_MASK = "*＊•●×"
_MASK_RUN = re.compile(rf"[{_MASK}]+|(?<=[0-9])[xX]{{2,}}|[xX]{{2,}}(?=[0-9])")
_SEPS = re.compile(r"[ \-\u3000]")
_ONLY_MASK = re.compile(rf"[{_MASK}]{{3,}}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_EMAIL = re.compile(
    rf"[A-Za-z0-9._%+\-{_MASK}]*[{_MASK}][A-Za-z0-9._%+\-{_MASK}]*@[A-Za-z0-9.\-]+\.[A-Za-z]{{2,}}"
)
_IP = re.compile(rf"\d{{1,3}}\.\d{{1,3}}\.(?:\d{{1,3}}|[{_MASK}]+)\.[{_MASK}]+")
_DATE = re.compile(rf"(?:19|20)\d\d[-/.年][{_MASK}0-9]{{1,2}}[-/.月][{_MASK}0-9]{{1,2}}日?")
_NAME = re.compile(
    rf"[\u4e00-\u9fff]{{1,2}}[{_MASK}]{{1,3}}[\u4e00-\u9fff]?|[A-Z][{_MASK}]+(?: [A-Z][{_MASK}]+)*"
)
_PASSPORT = re.compile(rf"[EGDSP][A-Z]?[0-9{_MASK}]{{7,8}}")


def is_masked(cell: str) -> bool:
    """Does the cell hide characters behind mask characters?"""
    return _MASK_RUN.search(fold(cell)) is not None


def _digits_shape(s: str) -> str | None:
    """Category of a run of digits and mask characters (separators removed)."""
    body = _MASK_RUN.sub(lambda m: "*" * len(m.group()), s)
    if not re.fullmatch(r"\+?[0-9*]+[Xx]?", body) or "*" not in body:
        return None
    body = body.lstrip("+")
    n = len(body)
    if body.startswith("86") and n == 13:
        body, n = body[2:], 11
    head = re.match(r"\d*", body).group()  # type: ignore[union-attr]
    if n == 11 and body[0] == "1" and (len(head) < 2 or head[1] in "3456789"):
        return "phone_mobile"
    if n in (15, 18) and body[0] in "123456789*" and (body[-1].isdigit() or body[-1] in "Xx*"):
        return "id_card"
    if n in (13, 14, 16, 17, 19) and len(head) >= 4 and card_brand(head[:4] + "0" * (n - 4)):
        return "bank_card"  # the clear head is a card brand's prefix (6222, 4532, 5522 ...)
    if body[0] == "0" and 10 <= n <= 12:
        return "phone_landline"
    return None  # 12****89: a QQ number, an account, a code? only the column's name can tell


def _card_not_id(groups: list[str]) -> bool:
    """An 18-character masked number grouped in fours (6225 **** **** **60 16) is a card; ungrouped
    it is taken for an ID (far more common at that length) unless the column's name says card."""
    return len(groups) > 2 and all(len(g) == 4 for g in groups[:-1])


@carries("O24-4", "O24-10")
def masked_category(cell: str, hint: str | None = None) -> str | None:
    """The category of a masked cell, or None when the cell is not masked (or its category cannot
    be told from its shape or the column's name ``hint``)."""
    text = fold(cell.strip())
    if not text or _MASK_RUN.search(text) is None:
        return None
    if _ONLY_MASK.fullmatch(text):
        return hint or "password"  # ****** : nothing left to tell but the column's name
    if "@" in text and _EMAIL.fullmatch(text):
        return "email"
    if _IP.fullmatch(text):
        return "ip_address"
    if _DATE.fullmatch(text):
        return "birth_date" if hint in (None, "birth_date") else hint
    if _PASSPORT.fullmatch(text) and hint == "passport":
        return "passport"
    shape = _digits_shape(_SEPS.sub("", text))
    groups = _SEPS.split(text)
    if shape == "id_card" and _card_not_id(groups):
        shape = "bank_card"
    if shape is not None:
        if hint in ("qq", "account", "bank_card", "wechat", "passport") and shape != hint:
            return hint  # 12****89 under a QQ column is a QQ number, not a card
        return shape
    if _NAME.fullmatch(text):
        return "name" if hint in (None, "name", "account") else hint
    if _CJK.search(text) and hint in (None, "address"):
        return "address" if len(text) >= 5 else hint
    return hint

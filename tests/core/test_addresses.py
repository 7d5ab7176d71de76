"""``core.addresses.normalize_address`` skips its translation tables for plain digits: every form
still normalises as with both tables applied."""

from __future__ import annotations

import pytest

from piguard.core import addresses
from piguard.core.errors import PiguardError


def _reference(raw: str) -> str | None:
    """What the address normalises to with both tables always applied."""
    a = raw.strip().translate(addresses._FULLWIDTH).translate(addresses._SEPARATORS)
    try:
        return addresses.normalize_address("sms", a)
    except PiguardError:
        return None


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "008613812345678",
        " 13812345678 ",
        "138-1234-5678",
        "+86 138 1234 5678",
        "(+86)13812345678",
        "１３８１２３４５６７８",
        "＋８６１３８１２３４５６７８",
        "138\u00a01234\u00a05678",
        "1381234567²",
        "+4915123456789",
        "12345",
        "+",
    ],
)
def test_plain_digits_and_other_forms_normalise_alike(raw: str) -> None:
    try:
        got: str | None = addresses.normalize_address("sms", raw)
    except PiguardError:
        got = None
    assert got == _reference(raw)

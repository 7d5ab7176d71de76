"""No personal information in logs, ever (O24-10, CSL-40, NPC-3: personal electronic information kept
confidential)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piguard.core.logging import configure_logging, get_logger, redact

pytestmark = pytest.mark.obligation("O24-10", "CSL-40", "NPC-3")

PI_SAMPLES = [
    "13812345678",
    "+86 138 1234 5678",
    "１３８１２３４５６７８",  # full-width digits
    "110101199003074514",
    "6222021234567890123",
    "zhang.san@example.com",
    "010-12345678",
    "192.168.10.23",
]


@pytest.mark.parametrize("value", PI_SAMPLES)
def test_redact_masks_pi_even_next_to_chinese(value: str) -> None:
    out = redact(f"用户{value}已登录")
    assert value not in out
    assert "[redacted]" in out
    assert out.startswith("用户") and out.endswith("已登录")


def test_redact_keeps_ordinary_text() -> None:
    assert redact("订单已发货 order shipped, 3 items") == "订单已发货 order shipped, 3 items"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.text(alphabet="你好用户的手机号是", max_size=5))
def test_redact_property_no_mobile_survives(mobile: str, prefix: str) -> None:
    assert mobile not in redact(prefix + mobile + prefix)


def _capture(fn) -> list[dict]:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        fn()
    finally:
        configure_logging("INFO")
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_lines_are_json_and_redacted() -> None:
    lines = _capture(
        lambda: get_logger("t").info(
            "user 13812345678 failed", phone="13812345678", count=3, nested={"note": "id 110101199003074514"}
        )
    )
    raw = json.dumps(lines, ensure_ascii=False)
    assert "13812345678" not in raw and "110101199003074514" not in raw
    assert lines[0]["count"] == 3
    assert lines[0]["phone"] == "[redacted]"


def test_stdlib_records_are_redacted() -> None:
    lines = _capture(lambda: logging.getLogger("lib").warning("mail to %s failed", "li.si@example.cn"))
    assert "li.si@example.cn" not in json.dumps(lines, ensure_ascii=False)
    assert lines and lines[0]["level"] == "warning"


def test_hex_digests_are_hashes_not_numbers() -> None:
    """The evidence bundle's SHA-256 came back from its audit entry as ``…6f[redacted]eac…`` (CI,
    2026-12-03): a digest's digit runs are not card or phone numbers."""
    digest = "d4f0cfccaeb6acbeea13556f5215549586310eac6bc13a80ee36aaffe091a348"
    assert redact(f"bundle sha256={digest}") == f"bundle sha256={digest}"
    assert redact(digest.upper()) == digest.upper()
    md5 = "0f" + "5" * 28 + "ab"
    assert redact(md5) == md5
    # a phone number beside a digest is still masked, and a digit run that is not a digest's
    # length, or has no hex letter, is masked as before
    assert redact(f"{digest} 13812345678") == f"{digest} [redacted]"
    assert redact("ab13812345678" + "c" * 20) == "ab[redacted]" + "c" * 20  # 33 characters
    assert "[redacted]" in redact("tel13812345678abcdef0123456789abcdef01")  # 38: no digest length


@given(st.binary(min_size=16, max_size=64))
def test_redact_never_changes_a_hex_digest(raw: bytes) -> None:
    import hashlib

    for name in ("md5", "sha1", "sha256", "sha512"):
        digest = hashlib.new(name, raw).hexdigest()
        if not set(digest) <= set("0123456789"):
            assert redact(f"hash {digest}.") == f"hash {digest}."

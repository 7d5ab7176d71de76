"""Issue 11: official short codes as registry data that the review's clearances consult.

A verified content provider's SMS port registered under an official short code (12321, 96110, the
110 line 12110, the carriers' 10086 …, the 95xxx nationwide service numbers) sends as an official
short code: its anti-fraud warnings that quote a scam are cleared, the same words from any other
port are not (O31-16, O31-17).
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from piguard.core.errors import PiguardError
from piguard.messaging.registry import service as registry
from piguard.messaging.registry.short_codes import is_official_short_code, parse_short_codes
from piguard.messaging.review import default_reviewer

from .gw_setup import COMMERCIAL_PORT, WELFARE_PORT, build_registry

pytestmark = pytest.mark.obligation("O31-16", "O31-17")

USCC3 = "91440300MA5F00001A"
USCC4 = "91440300MA5F00002D"
WARNING = (
    "【国家反诈中心】冒充熟人诈骗高发：对方自称“猜猜我是谁”“换号了”，以借钱为由要求转账，请当面或电话核实。"
)


@pytest.mark.parametrize(
    ("code", "official"),
    [
        ("12321", True),
        ("96110", True),
        ("12110", True),
        ("10086", True),
        ("95588", True),  # a bank's nationwide number
        ("955880", True),  # six-digit 95 block
        ("9558", False),
        ("9558801", False),
        ("10690001", False),  # an SMS provider's access code
        ("1232", False),
    ],
)
def test_the_built_in_table(code: str, official: bool) -> None:
    assert is_official_short_code(code) is official


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("codes: [{code: 12321}]", "codes[0]"),  # unquoted: YAML reads a number
        ("codes: [{code: '12a21'}]", "codes[0]"),
        ("patterns: [{regex: '95[0-9'}]", "patterns[0]"),
        ("- 12321", "mapping"),
        ("codes: [1, 2", "not YAML"),
        ("numbers: []", "mapping"),
    ],
)
def test_bad_short_code_data_is_a_clear_error(text: str, needle: str) -> None:
    with pytest.raises(PiguardError) as err:
        parse_short_codes(text, "mine.yaml")
    assert err.value.code == "validation_error"
    assert "mine.yaml" in err.value.message_en and needle in err.value.message_en


def _context(session: Session, code: str):  # type: ignore[no-untyped-def]
    snap = registry.snapshot(session)
    port, _ext = snap.resolve("sms", code)
    assert port is not None
    return snap.port_context(port, None)


def _official_port(session: Session, code: str, port: str, port_type: str, *, verified: bool):  # type: ignore[no-untyped-def]
    """The test registry plus a provider whose SMS service provider holds official short codes as
    access codes, with one port; the port's review context."""
    build_registry(session)
    identity = USCC3 if verified else USCC4
    sp = registry.create_service_provider(
        session,
        name=f"官方短信服务{code}",
        licence_number="B2-20200042",
        access_codes=["12321", "95588", "96110"],
        access_location="北京",
    )
    registry.create_content_provider(
        session,
        code=code,
        name=f"机构{code}",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number=identity,
    )
    if verified:
        registry.verify_content_provider(session, code)
    registry.create_port(session, code=port, port_type=port_type, content_provider=code)
    session.commit()
    return _context(session, port)


def test_a_verified_providers_official_short_code_clears_a_quoted_warning(session: Session) -> None:
    official = _official_port(session, "antifraud", "12321", "business_service", verified=True)
    reviewer = default_reviewer()
    assert official.clearances == frozenset({"official_short_code"})
    result = reviewer.review(WARNING, official)
    assert result.prohibited == ()
    note = next(f for f in result.findings if f.code == "prohibited_content_cleared")
    assert note.detail["clearances"] == ["official_short_code"]
    # the same words from a commercial port are refused as fraud
    commercial = _context(session, COMMERCIAL_PORT + "07")
    assert commercial.clearances == frozenset()
    assert "fraud" in reviewer.review(WARNING, commercial).prohibited
    # the verified public-welfare port on the 110 line is both
    assert _context(session, WELFARE_PORT).clearances == frozenset({"public_welfare", "official_short_code"})


def test_an_official_code_vouches_only_for_warnings(session: Session) -> None:
    """A scam sent from a 95xxx port is not cleared: clearing needs the warning wording."""
    ctx = _official_port(session, "bank", "95588", "business_service", verified=True)
    assert ctx.clearances == frozenset({"official_short_code"})
    scam = "您好，我是市公安局刑警，您的身份证涉嫌一起洗钱案，请配合调查，把资金转入安全账户核查。"
    assert "fraud" in default_reviewer().review(scam, ctx).prohibited


def test_an_unverified_provider_is_vouched_for_in_nothing(session: Session) -> None:
    ctx = _official_port(session, "unchecked", "96110", "public_welfare", verified=False)
    assert ctx.clearances == frozenset()
    assert "fraud" in default_reviewer().review(WARNING, ctx).prohibited

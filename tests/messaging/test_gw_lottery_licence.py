"""Issue 11: licensed lottery content providers as registry data that the review's clearances consult.

The operator records a content provider's authorisation to publish lottery results
(``record_lottery_licence``, ``piguard sms registry lottery-licence``); a verified provider with one
sends as a licensed lottery content provider, whose lottery results are not gambling. 六合彩 tips
stay prohibited from anyone (O31-16, CSL-47).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core.errors import PiguardError
from piguard.messaging.models import ContentProvider
from piguard.messaging.registry import service as registry
from piguard.messaging.review import default_reviewer

from .gw_setup import COMMERCIAL_PORT, build_registry

pytestmark = pytest.mark.obligation("O31-16", "CSL-47")

RESULTS = "【福彩】双色球第2024088期开奖公告：一等奖5注，下期彩票投注倍投赢大奖，押注请到投注站"
TIPS = "六合彩特码，期期必中，加微信"


def _context(session: Session):  # type: ignore[no-untyped-def]
    snap = registry.snapshot(session)
    port, _ext = snap.resolve("sms", COMMERCIAL_PORT + "07")
    assert port is not None
    return snap.port_context(port, None)


def test_a_licensed_providers_lottery_results_are_cleared_and_tips_are_not(session: Session) -> None:
    build_registry(session)
    reviewer = default_reviewer()
    assert "licensed_lottery" not in _context(session).clearances
    assert "gambling" in reviewer.review(RESULTS, _context(session)).prohibited

    cp = registry.record_lottery_licence(session, "youpin", "福彩授权-2025-0042")
    session.commit()
    assert cp.lottery_licence == "福彩授权-2025-0042"
    ctx = _context(session)
    assert "licensed_lottery" in ctx.clearances
    result = reviewer.review(RESULTS, ctx)
    assert result.prohibited == ()
    note = next(f for f in result.findings if f.code == "prohibited_content_cleared")
    assert note.detail["category"] == "gambling" and note.detail["clearances"] == ["licensed_lottery"]
    assert "gambling" in reviewer.review(TIPS, ctx).prohibited

    registry.record_lottery_licence(session, "youpin", None)  # withdrawn: reviewed as anyone's again
    session.commit()
    assert "licensed_lottery" not in _context(session).clearances


def test_an_unverified_provider_with_a_licence_is_not_vouched_for(session: Session) -> None:
    build_registry(session)
    registry.record_lottery_licence(session, "youpin", "体彩授权-0007")
    registry.verify_content_provider(session, "youpin", status="rejected")
    session.commit()
    assert _context(session).clearances == frozenset()


@pytest.mark.parametrize("licence", ["", "   ", "x" * 65])
def test_a_bad_licence_is_a_clear_error_and_nothing_is_recorded(session: Session, licence: str) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as err:
        registry.record_lottery_licence(session, "youpin", licence)
    assert err.value.code == "validation_error"
    assert any(f.field == "lottery_licence" for f in err.value.fields)
    session.rollback()
    cp = session.query(ContentProvider).filter_by(code="youpin").one()
    assert cp.lottery_licence is None


def test_the_cli_records_and_withdraws(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    build_registry(session)
    runner = CliRunner()
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "youpin", "--licence", "福彩授权-1"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"content_provider": "youpin", "lottery_licensed": True}
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "youpin", "--withdraw"])
    assert r.exit_code == 0 and json.loads(r.output)["lottery_licensed"] is False
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "youpin"])
    assert r.exit_code != 0 and "licence" in r.output
    r = runner.invoke(app, ["sms", "registry", "lottery-licence", "nobody", "--licence", "x"])
    assert r.exit_code != 0

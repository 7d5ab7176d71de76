"""The registry cannot be ambiguous (issue 10): port ranges owned by one content provider (O31-13),
replies resolved to every owner of the code (O31-20), signatures unique and reviewed (O31-21,
O31-12), one identity one content provider, licence numbers in the licence's format (O31-6)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.core.errors import PiguardError
from piguard.messaging.gateway import submit as batch
from piguard.messaging.models import Consent, ServiceProvider
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions import inbound

from .gw_setup import (
    COMMERCIAL_PORT,
    USCC,
    USER,
    ad,
    at_noon,
    build_registry,
    give_consent,
)

USCC3 = "91440300MA5DC1234X"


def _uscc3() -> str:
    """A third valid credit code (the check character computed, so the test never depends on luck)."""
    from stdnum.cn import uscc

    body = USCC3[:-1]
    return body + uscc.calc_check_digit(body)


def _second_provider(session: Session, code: str = "mall2", sig: str | None = "二号商城") -> int:
    sp_id = session.scalar(select(ServiceProvider.id))
    cp = registry.create_content_provider(
        session,
        code=code,
        name="二号商城",
        service_provider_id=sp_id,  # type: ignore[arg-type]
        identity_type="uscc",
        identity_number=_uscc3(),
    )
    registry.verify_content_provider(session, code)
    if sig:
        registry.approve_signature(session, code, sig, evidence="商标注册证")
    return cp.id


# ------------------------------------------------------------------------------ ports (O31-13)


@pytest.mark.obligation("O31-13")
@pytest.mark.parametrize(
    ("code", "ext"),
    [
        ("1069000101", None),  # a longer code inside youpin's 10690001 + 01-49
        ("10690001", ("50", "99")),  # the same code, other extensions
        ("10690001", None),  # the same code, bare
        ("1069000", ("1", "9")),  # a shorter code whose range covers 10690001
        ("1069000", None),  # a shorter code that 10690001… begins with
        ("106900010", ("0", "9")),  # a longer code inside the range's first ten
    ],
)
def test_a_port_overlapping_another_providers_range_is_refused_naming_the_owner(
    session: Session, code: str, ext: tuple[str, str] | None
) -> None:
    build_registry(session)
    _second_provider(session)
    with pytest.raises(PiguardError) as err:
        registry.create_port(
            session,
            code=code,
            port_type="commercial",
            content_provider="mall2",
            extension_from=ext[0] if ext else None,
            extension_to=ext[1] if ext else None,
        )
    assert err.value.code == "port_overlap" and err.value.http_status == 409
    assert "youpin" in err.value.message_en and "youpin" in err.value.message_zh
    assert "O31-13" in err.value.obligations


@pytest.mark.obligation("O31-13")
def test_the_issue_case_no_longer_steals_the_first_providers_messages_or_replies(session: Session) -> None:
    """10690001 01-49 is youpin's: 1069000101 for another provider is refused, so a message from
    1069000101 stays youpin's and a 退订 to it ends youpin's consent."""
    reg = build_registry(session)
    _second_provider(session)
    with pytest.raises(PiguardError):
        registry.create_port(session, code="1069000101", port_type="commercial", content_provider="mall2")
    give_consent(session, reg)
    [res] = batch.submit(session, [ad(sender="1069000101")], now=at_noon())
    assert res.outcome == "allow" and res.content_provider == "youpin"
    out = inbound.receive_reply(session, channel="sms", sender=USER, to="1069000101", text="退订")
    assert out.content_provider == "youpin" and out.consents_ended


@pytest.mark.obligation("O31-13")
def test_disjoint_ranges_are_accepted_and_a_duplicate_of_ones_own_is_not(session: Session) -> None:
    build_registry(session)
    _second_provider(session)
    p = registry.create_port(
        session,
        code="1069000",
        port_type="commercial",
        content_provider="mall2",
        extension_from="50",
        extension_to="59",
    )
    assert p.id
    with pytest.raises(PiguardError) as err:
        registry.create_port(
            session, code="10690002", port_type="business_service", content_provider="youpin"
        )
    assert err.value.code == "port_overlap"


@pytest.mark.obligation("O31-13", "O31-7")
def test_a_port_outside_the_service_providers_access_codes_is_refused(session: Session) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as err:
        registry.create_port(session, code="10660001", port_type="commercial", content_provider="youpin")
    assert err.value.code == "port_outside_access_codes"
    assert "106900" in err.value.message_en and set(err.value.obligations) == {"O31-7", "O31-13"}
    assert [f.field for f in err.value.fields] == ["code"]


# ------------------------------------------------------------------------------ replies (O31-20)


@pytest.mark.obligation("O31-20")
def test_optout_to_the_base_code_ends_the_owners_consent(session: Session) -> None:
    """youpin owns 10690001 with extensions 01-49: 退订 to 10690001 is youpin's (was port_unknown)."""
    reg = build_registry(session)
    cid = give_consent(session, reg)
    out = inbound.receive_reply(session, channel="sms", sender=USER, to=COMMERCIAL_PORT, text="退订")
    assert out.content_provider == "youpin" and out.consents_ended == [cid]
    assert "port_unknown" not in {r["code"] for r in out.reasons}
    assert out.confirmation_ref is not None
    assert session.get(Consent, cid).status == "ended"  # type: ignore[union-attr]
    [res] = batch.submit(session, [ad()], now=at_noon())
    assert res.outcome == "refuse" and "consent_missing" in {r.code for r in res.reasons}


@pytest.mark.obligation("O31-20")
def test_optout_to_a_code_of_several_providers_ends_each_and_says_so(session: Session) -> None:
    reg = build_registry(session)
    mall2 = _second_provider(session)
    registry.create_port(session, code="10690005", port_type="commercial", content_provider="mall2")
    mine = give_consent(session, reg)
    from datetime import timedelta

    from piguard.core.db import utcnow
    from piguard.messaging.subscriptions import consent

    theirs = consent.record_consent(
        session,
        channel="sms",
        recipient=USER,
        content_provider_id=mall2,
        message_type="promotions",
        max_messages=3,
        period_unit="day",
        valid_until=utcnow() + timedelta(days=30),
        evidence={"channel": "web", "text_shown": "同意接收二号商城促销信息"},
    ).id
    out = inbound.receive_reply(session, channel="sms", sender=USER, to="1069000", text="TD")
    assert sorted(out.consents_ended) == sorted([mine, theirs])
    assert out.content_providers == ["youpin", "mall2"] and out.content_provider is None
    assert len(out.confirmation_refs) == 2
    several = next(r for r in out.reasons if r["code"] == "reply_to_several_providers")
    assert several["detail"]["consents_ended_for"] == ["youpin", "mall2"]
    session.commit()
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "sms.consent.reply").order_by(AuditEntry.seq.desc())
    ).first()
    assert entry is not None and entry.detail["several_providers"] is True
    assert entry.detail["content_providers"] == ["youpin", "mall2"]
    assert USER not in str(entry.detail)


@pytest.mark.obligation("O31-20")
def test_owners_of_a_code(session: Session) -> None:
    build_registry(session)
    _second_provider(session)
    registry.create_port(session, code="10690005", port_type="commercial", content_provider="mall2")
    snap = registry.snapshot(session)
    codes = lambda dest: [snap.cps[p.cp_id].code for p in snap.owners("sms", dest)]  # noqa: E731
    assert codes("1069000107") == ["youpin"]  # exact
    assert codes("10690001") == ["youpin"]  # base code of a range
    assert codes("106900010") == ["youpin"]  # part of an extension
    assert codes("106900015") == []  # extensions 50-59 are nobody's
    assert codes("106900010799") == ["youpin"]  # digits after a registered code
    assert codes("1069000") == ["youpin", "mall2"]
    assert codes("9999") == []


# ------------------------------------------------------------------------------ signatures (O31-21, O31-12)


@pytest.mark.obligation("O31-21", "O31-12")
@pytest.mark.parametrize("spelling", ["优品商城", "【优品商城】", "优品 商城", "優品商城"])
def test_a_second_provider_cannot_register_anothers_signature(session: Session, spelling: str) -> None:
    build_registry(session)
    _second_provider(session, sig=None)
    with pytest.raises(PiguardError) as err:
        registry.add_signature(session, "mall2", spelling)
    assert err.value.code == "signature_taken" and err.value.http_status == 409
    assert "youpin" in err.value.message_en and set(err.value.obligations) == {"O31-21", "O31-12"}


@pytest.mark.obligation("O31-12")
def test_a_duplicate_credit_code_is_refused(session: Session) -> None:
    reg = build_registry(session)
    with pytest.raises(PiguardError) as err:
        registry.create_content_provider(
            session,
            code="copycat",
            name="优品商城二号",
            service_provider_id=reg.sp_id,
            identity_type="uscc",
            identity_number=USCC.lower(),
        )
    assert err.value.code == "identity_taken" and "youpin" in err.value.message_en
    assert USCC not in err.value.message_en and USCC not in err.value.message_zh
    assert err.value.obligations == ("O31-12",)


@pytest.mark.obligation("O31-21", "O31-12")
def test_signatures_are_reviewed_and_only_approved_ones_pass(session: Session) -> None:
    build_registry(session)
    _second_provider(session, sig=None)
    registry.create_port(session, code="10690005", port_type="business_service", content_provider="mall2")
    text = "【二号商城】您的订单已发货，快递单号SF1234567，请注意查收。"
    req = ad(sender="10690005", text=text, message_type=None)
    sig = registry.add_signature(session, "mall2", "二号商城")
    assert (sig.status, sig.approved) == ("submitted", False)
    [res] = batch.submit(session, [req], now=at_noon(), dry_run=True)
    assert res.outcome == "refuse"
    assert {"signature_unverified", "signature_mismatch"} & {r.code for r in res.reasons}

    with pytest.raises(PiguardError) as err:
        registry.review_signature(session, sig.id, decision="approved", evidence="  ")
    assert [f.field for f in err.value.fields] == ["evidence"]
    with pytest.raises(PiguardError):
        registry.review_signature(session, sig.id, decision="maybe", evidence="x")

    from piguard.identity.principal import system_principal

    reviewer = system_principal("reviewer-li")
    done = registry.review_signature(
        session, sig.id, decision="approved", evidence="商标注册证第 12345678 号", principal=reviewer
    )
    assert (done.status, done.approved, done.reviewed_by) == ("approved", True, "reviewer-li")
    assert done.evidence == "商标注册证第 12345678 号" and done.reviewed_at is not None
    [res] = batch.submit(session, [req], now=at_noon(), dry_run=True)
    assert res.outcome == "allow", [r.code for r in res.reasons]

    registry.review_signature(session, sig.id, decision="rejected", evidence="商标已转让")
    [res] = batch.submit(session, [req], now=at_noon(), dry_run=True)
    assert res.outcome == "refuse"


@pytest.mark.obligation("O31-12", "O31-21")
def test_an_unverified_providers_signature_cannot_be_approved(session: Session) -> None:
    reg = build_registry(session)
    registry.create_content_provider(
        session,
        code="newco",
        name="新公司",
        service_provider_id=reg.sp_id,
        identity_type="uscc",
        identity_number=_uscc3(),
    )
    sig = registry.add_signature(session, "newco", "新公司")
    with pytest.raises(PiguardError) as err:
        registry.review_signature(session, sig.id, decision="approved", evidence="营业执照")
    assert err.value.code == "content_provider_unverified" and err.value.obligations == ("O31-12",)


@pytest.mark.obligation("O31-21")
def test_a_rejected_signature_frees_the_name(session: Session) -> None:
    build_registry(session)
    _second_provider(session, sig=None)
    sig = registry.add_signature(session, "mall2", "好名字")
    registry.review_signature(session, sig.id, decision="rejected", evidence="非其商标")
    assert registry.add_signature(session, "youpin", "好名字").status == "submitted"


# ------------------------------------------------------------------------------ licences (O31-6)


@pytest.mark.obligation("O31-6")
@pytest.mark.parametrize(
    "bad", ["abc", "B2-1", "B3-20190001", "京B2-2018001", "B2-20190000", "X京B2-20180001"]
)
def test_a_licence_number_not_in_the_licence_format_is_refused(session: Session, bad: str) -> None:
    with pytest.raises(PiguardError) as err:
        registry.create_service_provider(session, name="某服务商", licence_number=bad)
    assert [f.field for f in err.value.fields] == ["licence_number"]
    assert "B2-20190001" in err.value.message_en


@pytest.mark.obligation("O31-6")
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("B2-20190001", "B2-20190001"),
        ("京B2-20180001", "京B2-20180001"),
        ("合字B2-20150004", "合字B2-20150004"),
        ("B1.B2-20090003", "B1.B2-20090003"),
        ("Ｂ２－２０１９０００２", "B2-20190002"),
        ("粤b2-20090059", "粤B2-20090059"),
    ],
)
def test_licence_numbers_in_the_licence_format_are_accepted(
    session: Session, given: str, stored: str
) -> None:
    sp = registry.create_service_provider(session, name="某服务商", licence_number=given)
    assert sp.licence_number == stored


@pytest.mark.obligation("O31-7")
def test_access_codes_must_be_digits(session: Session) -> None:
    with pytest.raises(PiguardError) as err:
        registry.create_service_provider(
            session, name="某服务商", licence_number="B2-20190003", access_codes=["10 69"]
        )
    assert [f.field for f in err.value.fields] == ["access_codes"]


@pytest.mark.obligation("O31-21")
def test_an_approved_signature_loaded_without_a_claim_still_belongs_to_its_provider(session: Session) -> None:
    from piguard.messaging.models import Signature

    reg = build_registry(session)
    _second_provider(session, sig=None)
    session.add(Signature(content_provider_id=reg.youpin_id, text="旧签名", approved=True, status="approved"))
    session.flush()
    with pytest.raises(PiguardError) as err:
        registry.add_signature(session, "mall2", "旧签名")
    assert err.value.code == "signature_taken" and "youpin" in err.value.message_en

"""Bulk export, copy and destruction under maker-checker review (O24-13.3), on both databases:
thresholds from dated parameters, a purpose from the taxonomy (O24-9.3), the discovery summary the
approver sees, never the requester approving, never after expiry, encrypted and watermarked
packages, audited downloads, expiry, destruction certificates; bad input a clear error with its
id and nothing changed."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.discovery.engine import detect
from piguard.identity import service as identity
from piguard.identity.principal import Principal
from piguard.oversight import bulk, bulk_certificate
from piguard.oversight.bulk_models import BulkDownload, BulkRequest
from piguard.regulations.parameters import parameter

from .bulk_setup import PASSWORD, export_csv

pytestmark = pytest.mark.obligation("O24-13.3")


def _staff(session: Session, username: str, roles: list[str] | None = None) -> Principal:
    staff = identity.ensure_staff(session, username, PASSWORD, roles or ["compliance_officer"], username)
    return identity.principal_for_staff(staff, via="cli")


@pytest.fixture()
def people(session: Session) -> tuple[Principal, Principal]:
    maker, checker = _staff(session, "maker"), _staff(session, "checker")
    session.commit()
    return maker, checker


def _export(session: Session, maker: Principal, n: int = 600, **kw: object) -> bulk.Requested:
    args: dict[str, object] = {
        "kind": "export",
        "purpose": "complaint_handling",
        "justification": "complaint statistics for the regulator",
        "system": "crm",
        "dataset": "complaints_2026",
        "recipients": ["示例审计事务所", "Internal audit"],
        "data": export_csv(n),
    }
    args.update(kw)
    done = bulk.request(session, maker, **args)  # type: ignore[arg-type]
    session.commit()
    return done


def _actions(session: Session, action: str) -> int:
    return (
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0
    )


def _raises(code: str, fn, *args, **kw) -> PiguardError:  # type: ignore[no-untyped-def]
    with pytest.raises(PiguardError) as info:
        fn(*args, **kw)
    assert info.value.code == code, info.value
    assert info.value.message_zh and info.value.message_en
    return info.value


def test_thresholds_are_dated_parameters_that_say_they_are_the_operators() -> None:
    for name in ("review_rows", "review_categories", "request_expiry_days", "export_expiry_days"):
        p = parameter(f"bulk.{name}")
        assert p.reference.id == "O24-13.3"
        assert "operator" in p.description.en and "运营者" in p.description.zh
    th = bulk.thresholds()
    assert th.rows >= 1 and th.categories >= 1 and th.request_days >= 1 and th.package_days >= 1


@pytest.mark.obligation("O24-13.3", "O24-9.3", "O24-13.6")
def test_an_export_is_held_scanned_and_kept_encrypted(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, _ = people
    done = _export(session, maker)
    req = done.request
    assert done.decision.outcome.value == "hold"
    codes = [r.code for r in done.decision.reasons]
    assert "bulk_rows_threshold" in codes and "bulk_awaiting_approval" in codes
    assert all(r.obligations for r in done.decision.reasons)
    assert "O24-9.3" in done.decision.obligations and "O24-13.3" in done.decision.obligations
    # complaint handling never needs ID numbers: the approver is told
    beyond = next(r for r in done.decision.reasons if r.code == "bulk_categories_beyond_purpose")
    assert beyond.detail["categories"] == ["id_card"]
    # the discovery engine's summary: categories and counts, never a value
    assert req.pi_summary["categories"] == {"id_card": 600, "name": 600, "phone_mobile": 600}
    assert req.rows == 600 and req.categories == ["id_card", "name", "phone_mobile"]
    assert detect(json.dumps(req.pi_summary, ensure_ascii=False)) == []
    # the data is kept only encrypted, under a per-request key
    first_row = export_csv(600).splitlines()[1].split(",")
    assert req.sealed is not None and first_row[1].encode() not in req.sealed
    assert req.wrapped_key is not None and req.key_version == "v1"
    other = _export(session, maker).request
    assert other.wrapped_key != req.wrapped_key
    assert bulk.status_of(req) == "pending" and _actions(session, "bulk.request") == 2


@pytest.mark.obligation("O24-13.2")  # the approval workflow itself
def test_the_requester_never_approves_their_own_request(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, _ = people
    ref = _export(session, maker).request.ref
    err = _raises("bulk_self_approval", bulk.approve, session, maker, ref)
    assert err.obligations == ("O24-13.3",) and err.http_status == 403
    session.rollback()
    assert bulk.get(session, ref).status == "pending" and _actions(session, "bulk.approve") == 0


def test_no_approval_after_the_request_expired(session: Session, people: tuple[Principal, Principal]) -> None:
    maker, checker = people
    req = _export(session, maker).request
    later = req.expires_at + timedelta(seconds=1)
    err = _raises("bulk_request_expired", bulk.approve, session, checker, req.ref, now=later)
    assert "O24-13.3" in err.obligations
    _raises("bulk_request_expired", bulk.reject, session, checker, req.ref, note="late", now=later)
    session.rollback()
    assert bulk.get(session, req.ref).status == "pending" and _actions(session, "bulk.approve") == 0
    assert bulk.status_of(bulk.get(session, req.ref), later) == "expired"
    # the purge job shreds the expired request's data
    assert bulk.purge_expired(session, now=later) == 1
    session.commit()
    shredded = bulk.get(session, req.ref)
    assert shredded.status == "expired" and shredded.sealed is None and shredded.wrapped_key is None


@pytest.mark.obligation("O24-13.3", "O24-13.6")
def test_approved_export_is_watermarked_per_recipient_and_every_download_audited(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, checker = people
    req = _export(session, maker).request
    decision = bulk.approve(session, checker, req.ref, note="ok")
    session.commit()
    assert decision.allowed and decision.reasons[0].code == "bulk_approved_by_second_person"
    assert req.decided_by == "staff:checker" and req.package_expires_at is not None

    a = bulk.download(session, maker, req.ref, recipient="示例审计事务所")
    b = bulk.download(session, checker, req.ref, recipient="Internal audit")
    session.commit()
    text_a, text_b = a.content.decode(), b.content.decode()
    # visible: the first line names the recipient and the request
    assert text_a.startswith("# piguard export " + req.ref) and "示例审计事务所" in text_a.splitlines()[0]
    assert "Internal audit" in text_b.splitlines()[0]
    # the same rows, in an order keyed to each recipient (the invisible marker)
    rows_a = list(csv.reader(io.StringIO("\n".join(text_a.splitlines()[1:]))))
    rows_b = list(csv.reader(io.StringIO("\n".join(text_b.splitlines()[1:]))))
    original = list(csv.reader(io.StringIO(export_csv(600))))
    assert rows_a[0] == rows_b[0] == original[0]
    assert (
        sorted(map(tuple, rows_a[1:])) == sorted(map(tuple, original[1:])) == sorted(map(tuple, rows_b[1:]))
    )
    assert rows_a[1:] != rows_b[1:] and rows_a[1:] != original[1:]
    # a leaked copy without its visible line still names its recipient
    leaked = "\n".join(text_b.splitlines()[1:300])
    found = bulk.trace(session, checker, req.ref, leaked)
    assert found["recipient"] == "Internal audit" and found["recipient_index"] == 1
    assert bulk.trace(session, checker, req.ref, text_a)["recipient_index"] == 0
    # every download recorded: the table and the audit log (the recipient by index, no PI)
    assert [d.recipient for d in bulk.downloads(session, req)] == [0, 1]
    assert _actions(session, "bulk.download") == 2
    entries = session.scalars(select(AuditEntry).where(AuditEntry.subject_ref == req.ref)).all()
    assert {e.action for e in entries} >= {"bulk.request", "bulk.approve", "bulk.download"}
    for e in entries:
        assert "O24-13.3" in e.obligations
        assert detect(json.dumps(e.detail, ensure_ascii=False)) == []
        assert "示例审计事务所" not in json.dumps(e.detail, ensure_ascii=False)


def test_a_download_for_someone_not_named_or_before_approval_is_refused(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, checker = people
    req = _export(session, maker).request
    _raises("bulk_not_approved", bulk.download, session, maker, req.ref, recipient="Internal audit")
    bulk.approve(session, checker, req.ref)
    session.commit()
    _raises("bulk_unknown_recipient", bulk.download, session, maker, req.ref, recipient="Someone else")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(BulkDownload)) == 0


def test_an_expired_export_cannot_be_downloaded(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, checker = people
    req = _export(session, maker).request
    bulk.approve(session, checker, req.ref)
    session.commit()
    assert req.package_expires_at is not None
    later = req.package_expires_at + timedelta(seconds=1)
    err = _raises(
        "bulk_export_expired", bulk.download, session, maker, req.ref, recipient="Internal audit", now=later
    )
    assert err.http_status == 410 and "O24-13.3" in err.obligations
    session.rollback()
    assert _actions(session, "bulk.download") == 0
    assert bulk.purge_expired(session, now=later) == 1
    session.commit()
    assert bulk.get(session, req.ref).wrapped_key is None
    _raises("bulk_export_expired", bulk.download, session, maker, req.ref, recipient="Internal audit")


def test_rejection_erases_the_data(session: Session, people: tuple[Principal, Principal]) -> None:
    maker, checker = people
    req = _export(session, maker).request
    _raises("validation_error", bulk.reject, session, checker, req.ref, note="")
    decision = bulk.reject(session, checker, req.ref, note="not needed for this purpose")
    session.commit()
    assert decision.outcome.value == "refuse" and decision.obligations == ("O24-13.3",)
    assert req.status == "rejected" and req.sealed is None and req.wrapped_key is None
    _raises("bulk_already_decided", bulk.approve, session, checker, req.ref)


def _destroy(session: Session, maker: Principal) -> BulkRequest:
    done = bulk.request(
        session,
        maker,
        kind="destroy",
        purpose="service_provision",
        justification="retention period of cancelled accounts ended",
        system="billing",
        dataset="cancelled_accounts_2019",
        rows=12_000,
        categories=["name", "phone_mobile", "address"],
        method="overwrite",
    )
    session.commit()
    return done.request


def test_a_destruction_produces_a_certificate_only_once_approved_and_done(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, checker = people
    req = _destroy(session, maker)
    err = _raises("bulk_not_approved", bulk.certificate, session, req.ref)
    assert "O24-13.3" in err.obligations
    _raises("bulk_not_approved", bulk.destroy, session, maker, req.ref)
    bulk.approve(session, checker, req.ref)
    session.commit()
    _raises("bulk_not_destroyed", bulk.certificate, session, req.ref)
    cert = bulk.destroy(session, maker, req.ref, note="overwritten three times")
    session.commit()
    assert cert == bulk.certificate(session, req.ref)
    assert cert["what"]["system"] == "billing" and cert["what"]["rows"] == 12_000
    assert [c["code"] for c in cert["what"]["categories"]] == ["address", "name", "phone_mobile"]
    assert cert["how"]["method"] == "overwrite" and cert["when"]
    assert cert["requested_by"] == "staff:maker" and cert["approved_by"] == "staff:checker"
    zh, en = bulk_certificate.certificate_html(cert, "zh"), bulk_certificate.certificate_html(cert, "en")
    assert "个人信息销毁证明" in zh and "覆写存储介质" in zh and "staff:checker" in zh
    assert "Certificate of destruction" in en and "Overwriting" in en and cert["certificate"] in en
    _raises("bulk_already_destroyed", bulk.destroy, session, maker, req.ref)
    assert _actions(session, "bulk.destroy") == 1


def test_no_certificate_for_what_was_never_approved(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, checker = people
    export = _export(session, maker).request
    bulk.approve(session, checker, export.ref)
    rejected = _destroy(session, maker)
    bulk.reject(session, checker, rejected.ref, note="keep: litigation hold")
    session.commit()
    for ref in (export.ref, rejected.ref):
        _raises("bulk_not_approved", bulk.certificate, session, ref)
    _raises("not_found", bulk.certificate, session, "nosuchref")


@pytest.mark.obligation("O24-13.3", "O24-9.3")
def test_an_unknown_purpose_is_refused_with_its_ids_and_nothing_stored(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, _ = people
    err = _raises("bulk_unknown_purpose", _export, session, maker, purpose="curiosity")
    assert err.obligations == ("O24-9.3", "O24-13.3") and err.fields[0].field == "purpose"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(BulkRequest)) == 0


def test_below_the_threshold_no_review_is_needed_and_nothing_is_stored(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, _ = people
    err = _raises("bulk_review_not_needed", _export, session, maker, n=20)
    assert err.obligations == ("O24-13.3",)
    detail = err.reasons[0].detail
    assert detail["rows"] == 20 and detail["threshold_rows"] == bulk.thresholds().rows
    assert "bulk.review_rows" in err.message_en and "无需审批" in err.message_zh
    session.rollback()
    assert session.scalar(select(func.count()).select_from(BulkRequest)) == 0


def test_few_rows_with_many_categories_need_review(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, _ = people
    th = bulk.thresholds()
    cats = ["name", "id_card", "phone_mobile", "address", "bank_card"][: th.categories]
    done = bulk.request(
        session,
        maker,
        kind="copy",
        purpose="billing",
        justification="migration",
        system="billing",
        dataset="vip",
        recipients=["new billing system"],
        rows=10,
        categories=cats,
    )
    assert done.decision.outcome.value == "hold"
    assert "bulk_categories_threshold" in [r.code for r in done.decision.reasons]


def test_roles_decide_who_may_ask_and_who_may_approve(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    maker, _ = people
    operator, auditor = _staff(session, "oper", ["operator"]), _staff(session, "aud", ["auditor"])
    session.commit()
    err = _raises("forbidden", _export, session, operator)
    assert "O24-13.3" in err.obligations
    ref = _export(session, maker).request.ref
    _raises("forbidden", bulk.approve, session, auditor, ref)
    session.rollback()
    assert bulk.get(session, ref).status == "pending"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "shred"}, "kind"),
        ({"justification": ""}, "justification"),
        ({"recipients": []}, "recipients"),
        ({"data": None}, "data"),
        ({"data": "only a header\n"}, "data"),
        ({"rows": 5}, "rows"),
        ({"categories": ["shoe_size"]}, "categories"),
        ({"method": "overwrite"}, "method"),
    ],
)
def test_bad_requests_are_clear_errors(
    session: Session, people: tuple[Principal, Principal], change: dict[str, object], field: str
) -> None:
    maker, _ = people
    err = _raises("validation_error", _export, session, maker, **change)
    assert err.fields[0].field == field and err.http_status == 422
    session.rollback()
    assert session.scalar(select(func.count()).select_from(BulkRequest)) == 0


def test_time_is_stored_in_utc(session: Session, people: tuple[Principal, Principal]) -> None:
    maker, _ = people
    req = _export(session, maker).request
    session.expire_all()
    again = bulk.get(session, req.ref)
    assert again.requested_at.utcoffset() == timedelta(0)
    assert again.expires_at - again.requested_at == timedelta(days=bulk.thresholds().request_days)
    assert again.requested_at <= utcnow()


def test_identity_access_decisions_hold_bulk_exports_without_an_approved_request(
    session: Session, people: tuple[Principal, Principal]
) -> None:
    from piguard.identity.access import decide_access

    maker, checker = people
    ctx = {"session": session, "rows": 5000}
    held = decide_access(maker, "pi.export", data_categories=["name"], context=ctx)
    assert held.outcome.value == "hold" and "bulk_review_required" in [r.code for r in held.reasons]
    assert "O24-13.3" in held.obligations
    small = decide_access(
        maker, "pi.export", data_categories=["name"], context={"session": session, "rows": 3}
    )
    assert small.allowed
    req = _export(session, maker).request
    pending = decide_access(maker, "pi.export", context={**ctx, "rows": 600, "bulk_ref": req.ref})
    assert pending.outcome.value == "hold"
    bulk.approve(session, checker, req.ref)
    session.commit()
    ok = decide_access(maker, "pi.export", context={**ctx, "rows": 600, "bulk_ref": req.ref})
    assert ok.allowed and "bulk_approved" in [r.code for r in ok.reasons]
    more = decide_access(maker, "pi.export", context={**ctx, "rows": 601, "bulk_ref": req.ref})
    assert more.outcome.value == "hold"
    wrong_kind = decide_access(maker, "pi.delete", context={**ctx, "rows": 600, "bulk_ref": req.ref})
    assert wrong_kind.outcome.value == "hold"


def test_the_watermark_says_the_day_in_china_the_package_expires() -> None:
    """Regression: the watermark showed the UTC date. A package valid until 20:00 UTC on 31 Dec is
    valid until 04:00 on 1 Jan in Shanghai."""
    from datetime import UTC, datetime

    req = BulkRequest(
        kind="export",
        ref="R1",
        purpose="complaint_handling",
        decided_by="olga",
        package_expires_at=datetime(2026, 12, 31, 20, 0, tzinfo=UTC),
    )
    assert "valid until: 2027-01-01 ·" in bulk.visible_line(req, "wang")

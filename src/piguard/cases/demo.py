"""Demo cases (``make run``): open complaints of each kind, through the same intake the portal, staff
and the API use. Idempotent; loaded after the gateway's demo data.

* a personal-information complaint taken at the counter (O24-12), and an older one now overdue;
* an SMS complaint filed in the portal about a message youpin sent (counted once by the early
  warning through the case);
* a reporting-centre (12321) transfer about an illegal-lending message of a third content provider,
  transferred late (flagged against the centre, O31-27): the gateway's review finds prohibited
  content, the content provider is stopped at once and the report drafted (O31-28).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.cases import complaints
from piguard.cases.models import Case
from piguard.core.db import utcnow
from piguard.messaging.models import MessageRecord
from piguard.messaging.records import protect
from piguard.messaging.records import service as records
from piguard.messaging.registry import service as registry

STAFF = Actor("staff", "operator")
LOAN_TEXT = "【速借金融】黑户可贷，无视征信，无抵押秒批，当天到账，详询4008123456"


def _loan_provider(session: Session) -> tuple[int, int]:
    sp = registry.list_service_providers(session)[0]
    cp = registry.create_content_provider(
        session,
        code="sujie",
        name="速借金融",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number="91440300MA5G9JK23Q",
    )
    registry.verify_content_provider(session, "sujie")
    registry.approve_signature(session, "sujie", "速借金融", evidence="演示数据 Demo data")
    port = registry.create_port(
        session, code="10690088", port_type="business_service", content_provider="sujie"
    )
    return cp.id, port.id


def _old_loan_message(session: Session, cp_id: int, port_id: int) -> str:
    """A message in the records from before the review's catalogue held illegal-lending terms."""
    ref = records.new_ref()
    addr = protect.normalize_address("sms", "13800138003")
    at = utcnow() - timedelta(days=12)
    row = records.record_row(
        ref=ref,
        at=at,
        direction="out",
        channel="sms",
        sender="10690088",
        address=addr,
        recipient_hash=protect.address_hash(addr),
        recipient_masked=protect.mask_address(addr),
        content=LOAN_TEXT,
        content_has_pi=False,
        outcome="allow",
        status="delivered",
        kind="commercial",
        content_provider_id=cp_id,
        port_id=port_id,
    )
    records.write_records(session, [row])
    return ref


#: The operator's own service port the demo's replies to complainants are sent from (``piguard demo``
#: sets ``PIGUARD_CASES_NOTICE_SENDER`` to it); the replies land in the outbox.
NOTICE_PORT = "10690099"
NOTICE_SIGNATURE = "演示客服"


def _notice_provider(session: Session) -> None:
    sp = registry.list_service_providers(session)[0]
    registry.create_content_provider(
        session,
        code="kefu",
        name="演示运营者客服",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number="91110108MA01ABCD1E",
    )
    registry.verify_content_provider(session, "kefu")
    registry.approve_signature(session, "kefu", NOTICE_SIGNATURE, evidence="演示数据 Demo data")
    registry.create_port(session, code=NOTICE_PORT, port_type="business_service", content_provider="kefu")


def load_demo_cases(session: Session) -> None:
    if session.scalar(select(Case.id).limit(1)) is not None:
        return
    now = utcnow()
    _notice_provider(session)
    complaints.file_complaint(
        session,
        kind="pi_complaint",
        received=now - timedelta(days=2),
        text="我在营业厅办理业务后频繁接到推销电话，怀疑个人信息被泄露，请核查。",
        actor=STAFF,
        source="counter",
        subject="phone:13800138001",
        now=now,
    )
    complaints.file_complaint(
        session,
        kind="pi_complaint",
        received=now - timedelta(days=20),
        text="要求说明我的身份证信息被用于何种目的。",
        actor=STAFF,
        source="phone",
        subject="phone:13800138002",
        now=now,
    )
    ad = session.scalar(
        select(MessageRecord.ref)
        .where(MessageRecord.direction == "out", MessageRecord.outcome == "allow")
        .order_by(MessageRecord.id)
        .limit(1)
    )
    complaints.file_complaint(
        session,
        kind="sms_complaint",
        received=now - timedelta(hours=3),
        text="我已多次回复退订，仍收到优品商城的促销短信。",
        actor=Actor("end_user", "demo"),
        source="portal",
        subject="phone:13800138000",
        message_ref=ad,
        now=now,
    )
    cp_id, port_id = _loan_provider(session)
    loan = _old_loan_message(session, cp_id, port_id)
    complaints.file_complaint(
        session,
        kind="sms_report_transfer",
        received=now - timedelta(days=10),
        transferred_at=now - timedelta(hours=6),
        text="12321 转办：用户举报收到非法贷款推销短信。",
        actor=STAFF,
        source="reporting_centre",
        subject="phone:13800138003",
        message_ref=loan,
        external_ref="12321-DEMO-0001",
        now=now,
    )

"""Demo data for oversight: one required course with current completions for the demo accounts
(so the console shows clear text for a purpose that needs it), one outsourced firm, a
responsibility register with gaps left to show, an access review with some items decided and some
waiting, and a few storage media (one handed over, one waiting for its destruction's witness).
Idempotent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.core.db import utcnow
from piguard.identity import service as identity
from piguard.oversight import access_reviews, agents, media, responsibilities, training

COURSE = "pi-basics"


def load_demo_oversight(session: Session) -> None:
    actor = Actor.system("demo-loader")
    now = utcnow()
    if not any(c.code == COURSE for c in training.list_courses(session)):
        training.add_course(
            session,
            code=COURSE,
            title_zh="个人信息保护基础（工信部令第24号）",
            title_en="Personal-information protection basics (MIIT Order 24)",
            actor=actor,
        )
        for username in ("demo", "operator"):
            if identity.get_staff_by_username(session, username) is not None:
                training.record_completion(session, username=username, course=COURSE, actor=actor)
    if agents.find_firm(session, "kefu-waibao") is None:
        agents.register_firm(
            session,
            code="kefu-waibao",
            name="示例外包客服有限公司",
            contract_no="WB-2026-001",
            contract_start=now - timedelta(days=30),
            contract_end=now + timedelta(days=335),
            scope_categories=["phone_mobile", "name"],
            scope_purposes=["complaint_handling", "service_provision"],
            scope_systems=["sms"],
            actor=actor,
        )

    _load_reviews(session, actor)


def _load_reviews(session: Session, actor: Actor) -> None:
    demo = identity.get_staff_by_username(session, "demo")
    operator = identity.get_staff_by_username(session, "operator")
    if demo is None or operator is None or not responsibilities.systems(session):
        return
    if not responsibilities.current(session):
        responsibilities.assign(session, kind="pi_protection", username="demo", actor=actor)
        responsibilities.assign(session, kind="system", scope="crm", username="demo", actor=actor)
        responsibilities.assign(session, kind="system", scope="billing", username="operator", actor=actor)
        responsibilities.assign(session, kind="category", scope="id_card", username="demo", actor=actor)
        responsibilities.assign(session, kind="branch", scope="北京分公司", username="operator", actor=actor)
    lead = identity.principal_for_staff(demo, via="system")
    if not access_reviews.list_campaigns(session):
        campaign = access_reviews.open_campaign(
            session, lead, title="2026 年下半年访问权限复核 / 2026 H2 access review"
        )
        for item in access_reviews.items_of(session, campaign):
            if item.system_id == "crm" and item.username == "auditor":  # the rest waits
                access_reviews.decide(session, lead, item.id, decision="confirm", note="岗位职责需要")
    if not media.list_media(session):
        media.register_medium(
            session,
            lead,
            label="TAPE-2026-001",
            kind="tape",
            holder="demo",
            location="机房 A 保险柜",
            description="CRM 月度备份（加密）",
            categories=["name", "phone_mobile", "id_card"],
            system="crm",
            encrypted=True,
        )
        media.register_medium(
            session,
            lead,
            label="USB-0042",
            kind="usb",
            holder="demo",
            location="合规部",
            description="计费对账导出",
            categories=["phone_mobile"],
            system="billing",
        )
        media.transfer(session, lead, "USB-0042", to="operator", location="财务部", note="月度对账")
        media.register_medium(
            session,
            lead,
            label="DISK-OLD-7",
            kind="disk",
            holder="demo",
            location="机房 B",
            description="退役服务器硬盘",
            categories=["phone_mobile", "ip_address"],
            system="billing",
        )
        media.propose_destruction(session, lead, "DISK-OLD-7", method="degauss", note="服务器退役")

"""Demo data for oversight: one required course with current completions for the demo accounts
(so the console shows clear text for a purpose that needs it) and one outsourced firm. Idempotent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.core.db import utcnow
from piguard.identity import service as identity
from piguard.oversight import agents, training

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

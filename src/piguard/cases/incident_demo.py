"""Demo data: one open incident (a CRM export found outside the company), with a scan of the leaked
file, remedial actions (one done), its severity, the report, and notices through the demo gateway.
Idempotent: loaded once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.cases.models import Case
from piguard.core.calendar import to_local_date
from piguard.core.db import utcnow

DEMO_TITLE = "客户关系系统导出文件外泄 CRM export found outside the company"
# Fictitious numbers of the demo range (1380013xxxx) and a check-digit-valid ID of no real person.
DEMO_LEAK = (
    "姓名,手机,身份证\n"
    "张三,13800138001,110101199003074514\n"
    "李四,13800138002,11010119900307451X\n"
    "王五,13800138003,\n"
)


def load_demo_incidents(session: Session) -> None:
    from piguard.cases import incidents

    if session.scalar(select(Case.id).where(Case.kind == "incident", Case.title == DEMO_TITLE)) is not None:
        return
    actor = Actor.system("demo-loader")
    now = utcnow()
    systems = ["crm"] if incidents._inventory_systems(session).get("crm") is not None else []
    case = incidents.open_incident(
        session,
        kind="leak",
        discovered=now - timedelta(hours=20),
        occurred=now - timedelta(days=2),
        systems=systems,
        categories=["name", "phone_mobile", "id_card"],
        people=120,
        title=DEMO_TITLE,
        text="外包客服人员将客户名单导出后上传至公共网盘；已发现 3 条样本。"
        " An agent's staff exported a customer list to a public file share; 3 sample rows found.",
        authority="北京市通信管理局 Beijing Communications Administration",
        owner="security-team",
        actor=actor,
    )
    incidents.scan(session, case, text=DEMO_LEAK, name="leaked-sample.csv", actor=actor)
    first = incidents.add_action(
        session,
        case,
        title="删除网盘中的文件并撤销外包账号导出权限 Remove the file, revoke the export right",
        owner="安全部 Security",
        actor=actor,
    )
    incidents.complete_action(session, case, first.id, contains=True, actor=actor)
    incidents.add_action(
        session,
        case,
        title="复核全部外包账号的批量导出审批 Review bulk-export approvals of every agent account",
        owner="合规部 Compliance",
        due=to_local_date(now + timedelta(days=7)),
        actor=actor,
    )
    # the demo gateway (piguard.messaging.demo) is loaded first: its business port sends the notices
    incidents.notify(
        session, case, ["13800138001", "13800138002", "13800138003"], sender="10690002", actor=actor
    )
    incidents.generate_report(session, case, actor=actor)

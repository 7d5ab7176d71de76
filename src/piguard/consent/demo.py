"""Demo consents for `piguard demo` (`make run`): three fictitious users who accepted the rules, one
of whom also agreed to marketing and one refused it, one withdrawn marketing consent, and a
cancelled account. Idempotent: skipped when the ledger already has subjects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.consent import service
from piguard.consent.models import ConsentSubject

# Fictitious numbers from the messaging demo's range, so the SMS subscriptions show beside them.
DEMO_SUBJECTS = ["phone:13800138000", "phone:13800138001", "phone:13800138002", "account:demo-u10004"]
RULES_TEXT = "《示例网络科技有限公司个人信息收集使用规则》：我们为提供服务、实名登记、计费、安全与投诉处理收集使用您的个人信息……"
MARKETING_TEXT = (
    "是否同意我们使用您的手机号、姓名向您推送营销推广信息？拒绝不影响基本服务，可随时在“设置-隐私”中撤回。"
)


def load_demo_consent(session: Session) -> None:
    if session.scalar(select(ConsentSubject.id).limit(1)) is not None:
        return
    actor = Actor.system("demo-loader")

    def ev(text: str, channel: str = "app", ip: str = "192.0.2.10") -> service.EvidenceIn:
        return service.EvidenceIn(
            channel=channel, text_shown=text, client_ip=ip, terminal="示例App 5.2 / Android 14"
        )

    for s in DEMO_SUBJECTS:
        service.accept_rules(session, s, ev(RULES_TEXT), actor=actor)
    service.grant(session, DEMO_SUBJECTS[0], "marketing", ev(MARKETING_TEXT), actor=actor)
    service.refuse(session, DEMO_SUBJECTS[1], "marketing", ev(MARKETING_TEXT), actor=actor)
    # purposes come from the demo inventory (optional: marketing only)
    service.grant(
        session, DEMO_SUBJECTS[2], "marketing", ev(MARKETING_TEXT, "web", "198.51.100.7"), actor=actor
    )
    service.withdraw(session, DEMO_SUBJECTS[2], "marketing", ev("在“设置-隐私”中关闭营销推广"), actor=actor)
    service.cancel_account(
        session, DEMO_SUBJECTS[3], ev("用户在营业厅申请注销账号", "counter", "203.0.113.5"), actor=actor
    )

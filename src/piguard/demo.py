"""A small demo data set: staff accounts in each role and a few recorded operations.

Loaded by `piguard demo` (the README's `make run`); idempotent, never loaded in production.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "piguard-demo-2026"

#: the portal sends its login codes from the demo's business-service port, signed as its provider
DEMO_PORTAL_ENV = {"PIGUARD_PORTAL_SMS_SENDER": "10690002", "PIGUARD_PORTAL_SMS_SIGNATURE": "优品商城"}

DEMO_STAFF = [
    (DEMO_USERNAME, DEMO_PASSWORD, ["admin", "compliance_officer"], "演示管理员 Demo admin"),
    ("auditor", "piguard-auditor-2026", ["auditor"], "审计员 Auditor"),
    ("operator", "piguard-operator-2026", ["operator"], "客服 Operator"),
]


def load_demo(session: Session) -> None:
    import piguard.identity.service as identity
    from piguard.audit.service import Actor, record

    for username, password, roles, display in DEMO_STAFF:
        identity.ensure_staff(session, username, password, roles, display)
    from piguard.messaging.demo import load_demo_messaging

    load_demo_messaging(session)
    from piguard.inventory.demo import load_demo_inventory

    load_demo_inventory(session)
    from piguard.consent.demo import load_demo_consent

    load_demo_consent(session)
    from piguard.cases.demo import load_demo_cases

    load_demo_cases(session)

    from piguard.cases.incident_demo import load_demo_incidents

    load_demo_incidents(session)
    # after the cases: requests are cases too, and the complaints' loader runs on an empty queue only
    from piguard.core.config import get_settings
    from piguard.rights.demo import load_demo_requests

    # the customer system rights requests are carried out in: a second SQLite database beside ours
    shop = get_settings().data_dir / "demo-shop.db"
    shop.parent.mkdir(parents=True, exist_ok=True)
    load_demo_requests(session, f"sqlite:///{shop}")

    from piguard.oversight.demo import load_demo_oversight

    load_demo_oversight(session)
    system = Actor.system("demo-loader")
    record(
        session,
        action="demo.load",
        actor=system,
        outcome="ok",
        obligations=("O24-13.6",),
        detail={"note": "demo data set loaded"},
    )
    record(
        session,
        action="pi.read",
        actor=Actor("staff", "operator"),
        subject_ref="user:10001",
        data_categories=("phone_mobile", "name"),
        purpose="customer_service",
        obligations=("O24-13.6", "O24-13.3"),
        client_ip="127.0.0.1",
        terminal="demo-desk-1",
    )
    record(
        session,
        action="pi.export",
        actor=Actor("staff", "operator"),
        subject_ref="user:10002",
        data_categories=("id_card",),
        purpose="marketing",
        outcome="refused",
        obligations=("O24-13.3", "O24-9.3"),
        client_ip="127.0.0.1",
    )
    # a first verification on record, as the worker's scheduled one would leave (the home page shows it)
    from piguard.audit import service as audit

    session.flush()
    audit.record_verification(session, audit.verify(session), system)

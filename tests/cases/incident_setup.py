"""Helpers for the incident tests: the demo inventory and the demo gateway registry."""

from __future__ import annotations

from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.consent import engine as consent_engine
from piguard.inventory.demo import load_demo_inventory
from piguard.messaging.demo import load_demo_messaging

STAFF = Actor("staff", "7")
NOTICE_PORT = "10690002"  # the demo's business/service port of youpin
AD_PORT = "1069000107"  # youpin's commercial port + extension
LEAKED = "13800138011"
LEAKED_2 = "13800138012"
LEAK_TEXT = "姓名,手机,身份证\n张三,13800138011,110101199003074514\n李四,13800138012,11010119900307451X\n"


def setup_world(session: Session) -> None:
    load_demo_inventory(session)
    load_demo_messaging(session)
    session.commit()
    consent_engine.reset_caches()

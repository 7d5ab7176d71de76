"""Consent tests: a small real purpose source (versions, material changes) and fresh caches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from piguard.audit.service import Actor
from piguard.consent import engine as consent_engine
from piguard.consent.purposes import PurposeView, StaticPurposes, set_source
from piguard.consent.service import EvidenceIn
from piguard.core import db

PURPOSES = [
    PurposeView("service_provision", True, frozenset({"name", "phone_mobile", "account"})),
    PurposeView("billing", True, frozenset({"name", "phone_mobile", "bank_card"})),
    PurposeView("marketing", False, frozenset({"name", "phone_mobile", "email"})),
    PurposeView("analytics", False, frozenset({"account", "ip_address"})),
]
STAFF = Actor("staff", "alice")
PHONE = "phone:13800138000"
OTHER = "phone:13900139000"


def shown(text: str = "我们将把您的手机号用于营销推广，您可随时撤回。") -> EvidenceIn:
    return EvidenceIn(channel="app", text_shown=text, client_ip="10.0.0.8", terminal="app 5.1 / Android")


@pytest.fixture()
def source() -> Iterator[StaticPurposes]:
    src = StaticPurposes(PURPOSES, version=1)
    set_source(src)
    consent_engine.reset_caches()
    yield src
    set_source(None)
    consent_engine.reset_caches()


def second_engine(engine: Engine) -> Engine:
    """Another engine on the same database: stands for another worker process."""
    if engine.dialect.name == "postgresql":
        from tests.conftest import POSTGRES_URL  # type: ignore[import-not-found]

        with engine.connect() as conn:
            schema = conn.execute(text("select current_schema()")).scalar_one()
        return db.make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    return db.make_engine(str(engine.url))

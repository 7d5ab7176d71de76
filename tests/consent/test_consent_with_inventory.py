"""The consent ledger reads the real inventory: its purposes, its published rules versions and
their material changes (issue 7: a material rules change requires renewal; O24-9.1, O24-8)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.consent import engine as consent_engine
from piguard.consent import service as consent
from piguard.consent.purposes import set_source
from piguard.consent.service import EvidenceIn
from piguard.inventory import rules
from piguard.inventory import service as inventory
from piguard.inventory.demo import load_demo_inventory
from piguard.inventory.document import InventoryDoc

pytestmark = pytest.mark.obligation("O24-9.1", "O24-8", "CSL-41.1")
STAFF = Actor("staff", "alice")
PHONE = "phone:13800138000"


def _shown() -> EvidenceIn:
    return EvidenceIn(channel="app", text_shown="营销推广同意书", client_ip="10.0.0.8")


@pytest.fixture(autouse=True)
def real_source() -> None:
    set_source(None)  # the default: the inventory
    consent_engine.reset_caches()


def test_a_material_change_in_the_inventory_requires_renewal(session: Session) -> None:
    load_demo_inventory(session)
    session.commit()
    current = inventory.current_rules_version(session)
    assert current is not None and current.number == 2
    consent.grant(session, PHONE, "marketing", _shown(), actor=STAFF)
    session.commit()
    assert consent.may(session, STAFF, PHONE, ["phone_mobile"], "marketing").allowed
    # a new category for marketing, published: a material change for that purpose
    data = yaml.safe_load(inventory.export_yaml(session))
    fields = data["systems"][0]["tables"][0]["fields"]
    fields.append(
        {
            "column": "city",
            "categories": ["address"],
            "purposes": ["marketing"],
            "retention": "P1Y",
            "necessity": "按地区推送活动",
        }
    )
    inventory.apply(session, InventoryDoc.model_validate(data), STAFF, source="test")
    version = rules.publish(session, STAFF, effective=date(2026, 12, 1))
    session.commit()
    assert "marketing" in version.material_purposes
    decision = consent.may(session, STAFF, PHONE, ["phone_mobile"], "marketing")
    assert not decision.allowed
    assert "renewal_needed" in {r.code for r in decision.reasons}
    consent.grant(session, PHONE, "marketing", _shown(), actor=STAFF)  # renewed under version 3
    session.commit()
    assert consent.may(session, STAFF, PHONE, ["phone_mobile", "address"], "marketing").allowed


def test_an_undeclared_purpose_and_an_unneeded_category_are_refused(session: Session) -> None:
    load_demo_inventory(session)
    session.commit()
    d = consent.may(session, STAFF, PHONE, ["phone_mobile"], "astrology")
    assert not d.allowed and "purpose_not_declared" in {r.code for r in d.reasons}
    consent.grant(session, PHONE, "marketing", _shown(), actor=STAFF)
    session.commit()
    d = consent.may(session, STAFF, PHONE, ["id_card"], "marketing")
    assert not d.allowed and "category_not_needed" in {r.code for r in d.reasons}

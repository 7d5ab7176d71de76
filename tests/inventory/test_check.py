"""The minimisation check: each finding names its ids (O24-5, O24-9.3, CSL-41.2)."""

from __future__ import annotations

import pytest

from piguard.core.reasons import Outcome
from piguard.inventory.document import parse
from piguard.inventory.service import check_doc

from .conftest import dump, field


def _codes(data) -> dict[str, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    return {r.code: r.obligations for r in check_doc(parse(dump(data))).findings}


@pytest.mark.obligation("O24-5", "O24-9.3", "CSL-41.2")
def test_demo_inventory_is_minimal(demo_yaml: str) -> None:
    report = check_doc(parse(demo_yaml))
    assert report.findings == []
    assert report.decision.outcome is Outcome.ALLOW
    assert set(report.decision.obligations) == {"O24-5", "O24-9.3", "CSL-41.2"}


@pytest.mark.obligation("O24-5", "CSL-41.1", "CRL-29", "NPC-2")
def test_field_without_purpose(demo_data) -> None:  # type: ignore[no-untyped-def]
    field(demo_data, "crm", "customers", "name")["purposes"] = []
    report = check_doc(parse(dump(demo_data)))
    [r] = [r for r in report.findings if r.code == "field_without_purpose"]
    assert "O24-5" in r.obligations
    assert r.detail["column"] == "name" and r.detail["severity"] == "error"
    assert report.decision.outcome is Outcome.HOLD


@pytest.mark.obligation("O24-9.3", "CSL-41.2")
def test_purpose_holding_a_category_it_does_not_need(demo_data) -> None:  # type: ignore[no-untyped-def]
    # Marketing does not need the resident ID number.
    field(demo_data, "crm", "customers", "id_no")["purposes"] = ["real_name_registration", "marketing"]
    findings = check_doc(parse(dump(demo_data))).findings
    [r] = [r for r in findings if r.code == "category_not_needed"]
    assert r.obligations == ("O24-9.3", "CSL-41.2")
    assert (r.detail["purpose"], r.detail["category"]) == ("marketing", "id_card")


@pytest.mark.obligation("O24-5", "O24-9.3")
def test_missing_retention(demo_data) -> None:  # type: ignore[no-untyped-def]
    del field(demo_data, "billing", "invoices", "login_ip")["retention"]
    codes = _codes(demo_data)
    assert codes["missing_retention"] == ("O24-5", "O24-9.3")


@pytest.mark.obligation("O24-9.3", "CSL-41.2")
def test_optional_purpose_made_required(demo_data) -> None:  # type: ignore[no-untyped-def]
    next(p for p in demo_data["purposes"] if p["id"] == "marketing")["required"] = True
    assert _codes(demo_data)["optional_purpose_required"] == ("O24-9.3", "CSL-41.2")


@pytest.mark.obligation("O24-9.3", "CSL-41.2")
def test_optional_purpose_the_service_requires_anyway(demo_data) -> None:  # type: ignore[no-untyped-def]
    # The e-mail serves marketing only, yet the sign-up form makes it compulsory.
    field(demo_data, "crm", "customers", "email")["collection"] = "required"
    codes = _codes(demo_data)
    assert codes["optional_purpose_forced"] == ("O24-9.3", "CSL-41.2")


@pytest.mark.obligation("O24-5")
def test_missing_necessity_is_a_warning(demo_data) -> None:  # type: ignore[no-untyped-def]
    del field(demo_data, "crm", "customers", "name")["necessity"]
    report = check_doc(parse(dump(demo_data)))
    assert [r.detail["severity"] for r in report.findings] == ["warning"]
    assert report.errors == 0

"""The inventory file: every bad input refused with the file, the line and the field; unknown
categories and purposes with the list of known ones (O24-5, O24-8)."""

from __future__ import annotations

import pytest

from piguard.core.errors import PiguardError
from piguard.discovery.categories import CODES
from piguard.inventory.document import decode, parse
from piguard.inventory.taxonomy import parse_retention, retention_text, taxonomy

from .conftest import dump, field

pytestmark = pytest.mark.obligation("O24-5", "O24-8")

ISSUE_SHAPE = """\
operator: {name: 示例网络科技有限公司, address: 北京市海淀区, contact: privacy@example.cn}
purposes:
  - {id: service_provision, required: true}
  - {id: marketing, required: false}
systems:
  - id: crm
    name: 客户关系系统
    owner: 客户服务部
    location: 中国境内
    connector: {kind: sql, url: "sqlite:///crm.db"}
    tables:
      - name: customers
        subject_keys: {phone: mobile, id_card: id_no}
        fields:
          - {column: name, categories: [name], purposes: [service_provision], necessity: 实名登记, retention: until_cancellation}
          - {column: mobile, categories: [phone_mobile], purposes: [service_provision, marketing], retention: P3Y}
"""


def _error(text: str, filename: str = "crm.yaml") -> PiguardError:
    with pytest.raises(PiguardError) as exc:
        parse(text, filename)
    return exc.value


def test_the_issue_shape_parses() -> None:
    doc = parse(ISSUE_SHAPE)
    assert doc.systems[0].location == "in_china"
    assert doc.systems[0].connector.kind == "sql"
    assert doc.systems[0].tables[0].fields[1].retention == "P3Y"


def test_demo_inventory_parses(demo_yaml: str) -> None:
    doc = parse(demo_yaml, "demo.yaml")
    assert {p.id for p in doc.purposes} >= {"service_provision", "marketing"}


def test_yaml_syntax_error_names_file_and_line() -> None:
    text = ISSUE_SHAPE.replace("    tables:\n", "    tables: [\n", 1)
    err = _error(text)
    assert err.code == "validation_error"
    assert "crm.yaml" in err.message_en and "line" in err.message_en
    assert "crm.yaml" in err.fields[0].message


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    """A second ``systems:`` replaced the first without a word: a whole system gone from the
    inventory (and so from the published rules) with no error."""
    text = (
        ISSUE_SHAPE
        + "systems:\n  - {id: billing, name: 计费, owner: 财务部, location: 中国境内, tables: []}\n"
    )
    err = _error(text)
    assert err.code == "validation_error"
    [f] = err.fields
    assert "crm.yaml, line 17" in f.message and "duplicate key 'systems'" in f.message
    assert "line 5" in f.message  # where the first one is


def test_unknown_category_names_line_field_and_known_list() -> None:
    err = _error(ISSUE_SHAPE.replace("categories: [phone_mobile]", "categories: [cellphone]"))
    [f] = err.fields
    assert f.field == "systems[0].tables[0].fields[1].categories[0]"
    assert f.message.startswith("crm.yaml, line 16:")
    assert "'cellphone'" in f.message
    assert all(code in f.message for code in CODES)


def test_unknown_purpose_refused_with_known_purposes() -> None:
    err = _error(
        ISSUE_SHAPE.replace("{id: marketing, required: false}", "{id: advertising, required: false}")
    )
    messages = " ".join(f.message for f in err.fields)
    assert "unknown purpose 'advertising'" in messages
    assert all(p in messages for p in taxonomy())
    assert any(f.field == "purposes[1].id" and "line 4" in f.message for f in err.fields)
    # The field that still names marketing is told that it is not declared.
    assert any(f.field == "systems[0].tables[0].fields[1].purposes[1]" for f in err.fields)


def test_bad_retention_location_and_extra_key(demo_data) -> None:  # type: ignore[no-untyped-def]
    field(demo_data, "crm", "customers", "id_no")["retention"] = "3 years"
    demo_data["systems"][0]["location"] = "火星"
    field(demo_data, "crm", "customers", "name")["colour"] = "blue"
    err = _error(dump(demo_data), "inv.yaml")
    by_field = {f.field: f.message for f in err.fields}
    assert "ISO 8601" in by_field["systems[0].tables[0].fields[1].retention"]
    assert "unknown location" in by_field["systems[0].location"]
    assert "systems[0].tables[0].fields[0].colour" in by_field
    assert all(m.startswith("inv.yaml, line ") for m in by_field.values())


def test_missing_operator_and_not_a_mapping() -> None:
    err = _error("purposes: [{id: billing}]\n")
    assert any(f.field == "operator" for f in err.fields)
    err = _error("- just\n- a list\n")
    assert "expected a mapping" in err.fields[0].message


def test_undeclared_third_party_and_duplicates(demo_data) -> None:  # type: ignore[no-untyped-def]
    field(demo_data, "billing", "invoices", "msisdn")["third_parties"] = ["bank"]
    demo_data["purposes"].append({"id": "billing"})
    err = _error(dump(demo_data))
    messages = " ".join(f.message for f in err.fields)
    assert "unknown third party 'bank'" in messages
    assert "declared twice" in messages


def test_non_utf8_and_bom() -> None:
    with pytest.raises(PiguardError) as exc:
        decode("operator: {name: 示例}".encode("gbk"), "gbk.yaml")
    assert "gbk.yaml" in exc.value.message_en and "UTF-8" in exc.value.message_en
    assert decode("\ufeffa: 1".encode(), "bom.yaml") == "a: 1"


def test_retention_durations() -> None:
    assert parse_retention("P3Y") == (3, 0, 0, 0)
    assert parse_retention("P1Y6M") == (1, 6, 0, 0)
    assert parse_retention("P") is None and parse_retention("P0D") is None and parse_retention("3Y") is None
    assert retention_text("P1Y6M", "zh") == "1年6个月"
    assert retention_text("P2Y", "en") == "2 years"

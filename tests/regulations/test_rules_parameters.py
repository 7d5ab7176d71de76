"""Dated regulatory parameters: the value in force on a date, with its legal reference."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from piguard.core.errors import PiguardError
from piguard.regulations import parameters, service
from piguard.regulations.parameters import all_parameters, load_parameters, parameter, value

EXPECTED = {
    # name: (value, unit, obligation, first effective date)
    "complaint.reply_days": (15, "calendar_days", "O24-12", date(2013, 9, 1)),
    "rights.request_reply_days": (15, "calendar_days", "O24-9.2", date(2013, 9, 1)),
    "sms_complaint.feedback_working_days": (15, "working_days", "O31-27", date(2015, 6, 30)),
    "sms_complaint.reporting_centre_transfer_working_days": (5, "working_days", "O31-27", date(2015, 6, 30)),
    "sms_records.retention_months": (5, "months", "O31-11", date(2015, 6, 30)),
    "sms_records.subscription_status_months_after_end": (5, "months", "O31-11", date(2015, 6, 30)),
    "public_welfare.notice_working_days": (10, "working_days", "O31-17", date(2015, 6, 30)),
    "sms_consent.max_messages_per_day": (10, "messages", "O31-18.2", date(2015, 6, 30)),
    "sms_consent.max_period_months": (24, "months", "O31-18.2", date(2015, 6, 30)),
    "fines.o24_22.max_yuan": (10000, "yuan", "O24-22", date(2013, 9, 1)),
    "fines.o24_23.min_yuan": (10000, "yuan", "O24-23", date(2013, 9, 1)),
    "fines.o24_23.max_yuan": (30000, "yuan", "O24-23", date(2013, 9, 1)),
    "fines.o31_34.min_yuan": (10000, "yuan", "O31-34", date(2015, 6, 30)),
    "fines.o31_34.max_yuan": (30000, "yuan", "O31-34", date(2015, 6, 30)),
    # the operator's thresholds for a serious incident (Order 24 Art. 14 names no number)
    "incident.serious_people_affected": (1000, "people", "O24-14.1", date(2013, 9, 1)),
    "incident.serious_people_affected_sensitive": (100, "people", "O24-14.1", date(2013, 9, 1)),
    # operator policy under the duty to train (O24-15 names no period): a course may set its own
    "training.validity_days": (365, "calendar_days", "O24-15", date(2013, 9, 1)),
    # the operator's thresholds and periods for bulk-operation review (the law fixes no number)
    "bulk.review_rows": (500, "rows", "O24-13.3", date(2013, 9, 1)),
    "bulk.review_categories": (4, "categories", "O24-13.3", date(2013, 9, 1)),
    "bulk.request_expiry_days": (3, "calendar_days", "O24-13.3", date(2013, 9, 1)),
    "bulk.export_expiry_days": (7, "calendar_days", "O24-13.3", date(2013, 9, 1)),
    # the operator's access-review interval and campaign period (the law says "periodic", no number)
    "access_review.period_months": (6, "months", "O24-13.5", date(2013, 9, 1)),
    "access_review.campaign_days": (30, "calendar_days", "O24-13.5", date(2013, 9, 1)),
}


def test_the_parameter_names_other_domains_call() -> None:
    assert [p.name for p in all_parameters()] == sorted(EXPECTED)


@pytest.mark.obligation("O24-12")
def test_complaint_reply_days_is_fifteen_calendar_days() -> None:
    assert value("complaint.reply_days") == 15
    assert parameter("complaint.reply_days").unit == "calendar_days"


@pytest.mark.obligation("O31-27")
def test_sms_complaint_clocks_are_working_days() -> None:
    assert value("sms_complaint.feedback_working_days", on=date(2024, 1, 1)) == 15
    assert value("sms_complaint.reporting_centre_transfer_working_days", on=date(2024, 1, 1)) == 5
    assert parameter("sms_complaint.feedback_working_days").unit == "working_days"


@pytest.mark.obligation("O31-11")
def test_sms_record_retention_is_a_minimum_of_five_months() -> None:
    for name in ("sms_records.retention_months", "sms_records.subscription_status_months_after_end"):
        p = parameter(name)
        assert (value(name), p.unit, p.bound) == (5, "months", "at_least")


@pytest.mark.obligation("O31-17")
def test_public_welfare_notice_is_ten_working_days_ahead() -> None:
    p = parameter("public_welfare.notice_working_days")
    assert (value(p.name), p.unit, p.bound) == (10, "working_days", "at_least")


@pytest.mark.obligation("O24-22", "O24-23", "O31-34")
def test_fine_ranges() -> None:
    assert value("fines.o24_22.max_yuan") == 10000
    assert (value("fines.o24_23.min_yuan"), value("fines.o24_23.max_yuan")) == (10000, 30000)
    assert (value("fines.o31_34.min_yuan"), value("fines.o31_34.max_yuan")) == (10000, 30000)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_parameter_is_complete_and_cites_a_known_obligation(name: str) -> None:
    expected_value, unit, ref, first = EXPECTED[name]
    p = parameter(name)
    assert p.description.en and p.description.zh
    assert p.unit == unit
    assert p.reference.id == ref and ref in service.ids()
    assert p.reference.article_en and p.reference.article_zh
    assert p.values[0].effective == first
    assert value(name, on=first) == expected_value
    assert name in [q.name for q in service.parameters_for(ref)]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_before_the_first_effective_date_is_a_clear_error(name: str) -> None:
    first = EXPECTED[name][3]
    day_before = date.fromordinal(first.toordinal() - 1)
    with pytest.raises(PiguardError) as exc:
        value(name, on=day_before)
    err = exc.value
    assert err.code == "parameter_not_in_force"
    assert name in err.message_en and day_before.isoformat() in err.message_en
    assert first.isoformat() in err.message_en and first.isoformat() in err.message_zh
    assert err.obligations == (EXPECTED[name][2],)


def test_an_aware_datetime_is_read_in_china_time() -> None:
    # 2015-06-29 17:00 UTC is 2015-06-30 01:00 in Beijing: Order 31 is in force.
    assert value("sms_records.retention_months", on=datetime(2015, 6, 29, 17, 0, tzinfo=UTC)) == 5
    with pytest.raises(PiguardError):
        value("sms_records.retention_months", on=datetime(2015, 6, 29, 15, 0, tzinfo=UTC))


def test_unknown_name_is_not_found_with_a_suggestion() -> None:
    with pytest.raises(PiguardError) as exc:
        value("complaint.reply_day")
    err = exc.value
    assert err.code == "not_found" and err.http_status == 404
    assert "complaint.reply_day" in err.message_en and "complaint.reply_days" in err.message_en


def test_loading_is_cached() -> None:
    assert parameter("complaint.reply_days") is parameter("complaint.reply_days")


def _write(root: Path, name: str, body: str) -> None:
    path = root.joinpath(*name.split(".")).with_suffix(".yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")


CHANGED = """\
description: {en: Test deadline, zh: 测试期限}
unit: calendar_days
bound: at_most
reference: {id: O24-12, article_en: Order 24 Art. 12, article_zh: 第十二条}
values:
  - {effective: 2013-09-01, value: 15}
  - {effective: 2030-01-01, value: 10}
"""


def test_a_changed_value_applies_from_its_date(tmp_path: Path) -> None:
    _write(tmp_path, "demo.deadline_days", CHANGED)
    p = load_parameters(tmp_path)["demo.deadline_days"]
    assert parameters.in_force(p, date(2013, 8, 31)) is None
    assert parameters.in_force(p, date(2013, 9, 1)).value == 15  # type: ignore[union-attr]
    assert parameters.in_force(p, date(2029, 12, 31)).value == 15  # type: ignore[union-attr]
    assert parameters.in_force(p, date(2030, 1, 1)).value == 10  # type: ignore[union-attr]
    out = service.parameter_out(p, date(2031, 5, 5))
    assert (out.value, out.effective, out.in_force) == (10, date(2030, 1, 1), True)


def test_values_out_of_date_order_are_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "demo.bad", CHANGED.replace("2030-01-01", "2010-01-01"))
    with pytest.raises(PiguardError) as exc:
        load_parameters(tmp_path)
    assert exc.value.code == "rules_data_invalid" and "parameters/demo/bad.yaml" in exc.value.message_en


def test_a_parameter_without_reference_is_rejected(tmp_path: Path) -> None:
    body = "\n".join(line for line in CHANGED.splitlines() if not line.startswith("reference"))
    _write(tmp_path, "demo.noref", body)
    with pytest.raises(PiguardError) as exc:
        load_parameters(tmp_path)
    assert "reference" in exc.value.message_en


def test_a_non_integer_value_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "demo.text", CHANGED.replace("value: 10}", "value: ten}"))
    with pytest.raises(PiguardError) as exc:
        load_parameters(tmp_path)
    assert "values" in exc.value.message_en

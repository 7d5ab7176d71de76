"""The audit log never holds clear personal information (O24-13.6, O24-10)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from piguard.audit import service
from piguard.audit.guard import is_masked, looks_like_pi
from piguard.audit.service import Actor, record

pytestmark = pytest.mark.obligation("O24-13.6", "O24-10")

STAFF = Actor("staff", "s-1")
PHONE = "13812345678"
ID_NUMBER = "110101199003074518"


def raw_dump(engine: Engine) -> str:
    """Everything stored in the audit tables, as text."""
    with engine.connect() as conn:
        rows = []
        for table in ("audit_entry", "audit_head", "audit_checkpoint"):
            rows += [repr(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(rows)


def test_pi_in_free_text_is_masked_before_it_is_stored(session: Session, db_engine: Engine) -> None:
    record(
        session,
        action="pi.read",
        actor=STAFF,
        subject_ref="user-42",
        terminal=f"kiosk called {PHONE}",
        detail={
            "note": f"user rang from {PHONE}, ID {ID_NUMBER}",
            "fullwidth": "１３８１２３４５６７８",
            "spaced": "138 1234 5678",
            "nested": {"items": [f"+86 {PHONE}", "a@example.com"]},
            "as_number": 13812345678,
        },
    )
    session.commit()
    entry = service.search(session)[0]
    assert entry.detail["note"] == "user rang from [redacted], ID [redacted]"
    assert entry.detail["fullwidth"] == "[redacted]" and entry.detail["spaced"] == "[redacted]"
    items = entry.detail["nested"]["items"]
    assert all(i.endswith("[redacted]") and not any(c.isdigit() for c in i) for i in items)
    assert entry.detail["as_number"] == "[redacted]"
    assert entry.terminal == "kiosk called [redacted]"
    dump = raw_dump(db_engine)
    for clear in (PHONE, ID_NUMBER, "1234 5678", "a@example.com", "１３８"):
        assert clear not in dump
    assert service.verify(session).ok


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"phone": PHONE}, "detail.phone"),
        ({"phone": 13812345678}, "detail.phone"),
        ({"id_card": ID_NUMBER}, "detail.id_card"),
        ({"name": "张三"}, "detail.name"),
        ({"user": {"address": "北京市海淀区中关村大街1号"}}, "detail.user.address"),
        ({"recipients": {"mobile": [PHONE]}}, "detail.recipients.mobile[0]"),
        ({"phone": "138****5678 13912345678"}, "detail.phone"),  # a mask mark does not excuse a clear number
        ({PHONE: "x"}, "detail"),  # PI in a key
    ],
)
def test_clear_values_under_pi_keys_are_refused_without_echoing_them(
    session: Session, db_engine: Engine, detail: dict[str, object], field: str
) -> None:
    from piguard.core.errors import PiguardError

    with pytest.raises(PiguardError) as err:
        record(session, action="pi.read", actor=STAFF, detail=detail)
    assert err.value.code == "audit_clear_pi" and err.value.http_status == 422
    assert err.value.fields[0].field == field
    assert set(err.value.obligations) == {"O24-10", "O24-13.6"}
    shown = str(err.value.to_dict()) + str(err.value)
    assert PHONE not in shown and ID_NUMBER not in shown and "张三" not in shown
    session.commit()
    assert PHONE not in raw_dump(db_engine)


def test_masked_values_under_pi_keys_are_kept(session: Session) -> None:
    detail = {
        "phone": "138****5678",
        "name": "张*",
        "id_card": "1101**********4518",
        "email": "[redacted]",
        "address": None,
        "password": "",
    }
    record(session, action="pi.read", actor=STAFF, detail=detail)
    session.commit()
    assert service.search(session)[0].detail == detail


@pytest.mark.parametrize("field", ["subject_ref", "purpose"])
@pytest.mark.parametrize("value", [PHONE, ID_NUMBER, "li@example.com", "6222021234567890123"])
def test_references_that_are_clear_pi_are_refused(session: Session, field: str, value: str) -> None:
    from piguard.core.errors import PiguardError

    with pytest.raises(PiguardError) as err:
        record(session, action="pi.read", actor=STAFF, **{field: value})  # type: ignore[arg-type]
    assert err.value.code == "audit_clear_pi" and err.value.fields[0].field == field
    assert value not in str(err.value.to_dict())


def test_an_actor_id_that_is_a_phone_number_is_refused(session: Session) -> None:
    from piguard.core.errors import PiguardError

    with pytest.raises(PiguardError) as err:
        record(session, action="auth.login", actor=Actor("end_user", PHONE))
    assert err.value.fields[0].field == "actor.id"


def test_guard_helpers() -> None:
    assert looks_like_pi(PHONE) and looks_like_pi("１３８１２３４５６７８") and not looks_like_pi("user-42")
    assert looks_like_pi("10.0.0.1") and not looks_like_pi("10.0.0.1", allow_ip=True)
    assert is_masked("138****5678") and is_masked("张*") and not is_masked(PHONE) and not is_masked("plain")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from piguard.audit.guard import MIN_PI_DIGITS, could_hold_pi  # noqa: E402
from piguard.core.logging import redact  # noqa: E402

_DIGITS = "0123456789０１２３４５６７８９"
_NEAR_PI = st.text(alphabet=st.sampled_from(list(_DIGITS + " -.+()/:xX中@a")), max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), _NEAR_PI))
def test_the_guard_only_skips_text_that_redact_would_leave_alone(value: str) -> None:
    """The guard skips the regexes for text without "@" and with fewer than MIN_PI_DIGITS digits;
    that must never let through something ``redact`` masks (this fails if redact learns a new
    pattern that breaks the assumption)."""
    if not could_hold_pi(value):
        assert redact(value) == value.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    assert sum(c in _DIGITS for c in "1.2.3.4") >= MIN_PI_DIGITS and redact("1.2.3.4") != "1.2.3.4"

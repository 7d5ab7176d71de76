"""Licensed providers only, and their particulars recorded (O31-6, O31-7)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from piguard.core.errors import PiguardError
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.gateway.submit import submit
from piguard.messaging.models import ServiceProvider
from piguard.messaging.registry import service as registry

from .gw_setup import BUSINESS_PORT, NOTICE, USER, at_noon, build_registry


@pytest.mark.obligation("O31-7")
def test_provider_name_access_codes_and_location_are_recorded(session: Session) -> None:
    reg = build_registry(session)
    session.commit()
    sp = session.get(ServiceProvider, reg.sp_id)
    assert sp is not None
    assert (sp.name, sp.licence_number, sp.access_codes, sp.access_location) == (
        "示例短信服务",
        "B2-20150001",
        ["106900", "12110"],
        "北京",
    )


@pytest.mark.obligation("O31-6")
@pytest.mark.parametrize("licence", ["", "   ", None])
def test_a_provider_without_a_licence_number_cannot_be_registered(session: Session, licence: object) -> None:
    with pytest.raises(PiguardError) as err:
        registry.create_service_provider(session, name="无证服务商", licence_number=licence)  # type: ignore[arg-type]
    assert err.value.http_status == 422
    assert any(f.field == "licence_number" for f in err.value.fields)


@pytest.mark.obligation("O31-6")
def test_the_same_licence_cannot_be_registered_twice(session: Session) -> None:
    build_registry(session)
    with pytest.raises(PiguardError) as err:
        registry.create_service_provider(session, name="冒用者", licence_number="B2-20150001")
    assert err.value.http_status == 409


@pytest.mark.obligation("O31-6")
def test_messages_through_an_inactive_service_provider_are_refused(session: Session) -> None:
    reg = build_registry(session)
    session.commit()
    [ok] = submit(session, [GatewayRequest("sms", BUSINESS_PORT, USER, NOTICE)], now=at_noon())
    assert ok.outcome == "allow"
    # The licence lapsed: the provider is taken out of service, and the registry version moves on.
    sp = session.get(ServiceProvider, reg.sp_id)
    assert sp is not None
    sp.active = False
    registry.bump(session)
    session.commit()
    [r] = submit(session, [GatewayRequest("sms", BUSINESS_PORT, USER, NOTICE)], now=at_noon())
    assert r.outcome == "refuse"
    assert "O31-6" in r.obligations

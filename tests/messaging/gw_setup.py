"""Helpers for the gateway tests: a small registry, consents, requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from piguard.core.db import utcnow
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions import consent

USCC = "91110000600037341L"
USCC2 = "91310000MA1FL1234Q"
COMMERCIAL_PORT = "10690001"  # + 2-digit extension 01-49 for youpin
BUSINESS_PORT = "10690002"
WELFARE_PORT = "12110"
USER = "13812345678"
USER_E164 = "+8613812345678"
AD = "【优品商城】会员专享：全场春装5折起，满299减50，限时3天，详询4008123456 回T退订"
NOTICE = "【优品商城】您的订单已发货，快递单号SF1234567，请注意查收。"
CODE = "【优品商城】您的验证码是482913，5分钟内有效，请勿泄露。"


@dataclass
class Reg:
    sp_id: int
    youpin_id: int
    other_id: int
    commercial_port_id: int
    business_port_id: int
    welfare_port_id: int


def build_registry(session: Session) -> Reg:
    sp = registry.create_service_provider(
        session,
        name="示例短信服务",
        licence_number="B2-20150001",
        access_codes=["106900", "12110"],
        access_location="北京",
    )
    yp = registry.create_content_provider(
        session,
        code="youpin",
        name="优品商城",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number=USCC,
    )
    registry.verify_content_provider(session, "youpin")
    registry.approve_signature(session, "youpin", "优品商城", evidence="营业执照与商标注册证 (test set-up)")
    other = registry.create_content_provider(
        session,
        code="civic",
        name="市应急管理局",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number=USCC2,
    )
    registry.verify_content_provider(session, "civic")
    registry.approve_signature(
        session, "civic", "市应急管理局", evidence="营业执照与商标注册证 (test set-up)"
    )
    cport = registry.create_port(
        session,
        code=COMMERCIAL_PORT,
        port_type="commercial",
        content_provider="youpin",
        extension_from="01",
        extension_to="49",
    )
    bport = registry.create_port(
        session, code=BUSINESS_PORT, port_type="business_service", content_provider="youpin"
    )
    wport = registry.create_port(
        session, code=WELFARE_PORT, port_type="public_welfare", content_provider="civic"
    )
    session.commit()
    return Reg(sp.id, yp.id, other.id, cport.id, bport.id, wport.id)


def give_consent(
    session: Session,
    reg: Reg,
    *,
    recipient: str = USER,
    message_type: str = "promotions",
    max_messages: int = 3,
    period_unit: str = "day",
    days: int = 30,
    channel: str = "sms",
) -> int:
    c = consent.record_consent(
        session,
        channel=channel,
        recipient=recipient,
        content_provider_id=reg.youpin_id,
        message_type=message_type,
        max_messages=max_messages,
        period_unit=period_unit,
        valid_until=utcnow() + timedelta(days=days),
        evidence={"channel": "web", "text_shown": "同意接收优品商城促销信息，每日最多3条"},
    )
    session.commit()
    return c.id


def ad(
    recipient: str = USER,
    *,
    text: str = AD,
    sender: str = COMMERCIAL_PORT + "07",
    message_type: str | None = "promotions",
    **kw: object,
) -> GatewayRequest:
    return GatewayRequest(
        channel="sms", sender=sender, recipient=recipient, text=text, message_type=message_type, **kw
    )  # type: ignore[arg-type]


def at_noon() -> datetime:
    """A fixed daytime instant (Asia/Shanghai 12:00) so quiet hours never interfere by accident:
    the latest one that has passed (between 00:00 and 04:00 UTC today's is still to come, and jobs
    that run "now" would find nothing due)."""
    now = utcnow()
    noon = now.replace(hour=4, minute=0, second=0, microsecond=0)
    return noon if noon <= now else noon - timedelta(days=1)

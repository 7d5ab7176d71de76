"""Demo data for the gateway: a service provider, two content providers with signatures and ports,
consents, a pending consent request, and a few decided messages and replies. Idempotent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.core.db import utcnow
from piguard.messaging.gateway import submit as batch
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.models import ContentProvider
from piguard.messaging.registry import service as registry
from piguard.messaging.subscriptions import consent, inbound

# Fictitious numbers (the 1380013xxxx demo range) and valid-looking credit codes of no real company.
DEMO_USERS = ["13800138000", "13800138001", "13800138002", "13800138003"]


def load_demo_messaging(session: Session) -> None:
    if session.scalar(select(ContentProvider.id).where(ContentProvider.code == "youpin")) is not None:
        return
    now = utcnow()
    sp = registry.create_service_provider(
        session,
        name="演示短信服务有限公司 Demo SMS Co.",
        licence_number="B2-20269999",
        access_codes=["106900", "12110"],
        access_location="北京 Beijing",
    )
    registry.create_content_provider(
        session,
        code="youpin",
        name="优品商城",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number="91110000600037341L",
    )
    registry.verify_content_provider(session, "youpin")
    registry.approve_signature(
        session,
        "youpin",
        "优品商城",
        evidence="演示数据：营业执照与商标注册证 Demo: business licence and trademark",
    )
    registry.create_port(
        session,
        code="10690001",
        port_type="commercial",
        content_provider="youpin",
        extension_from="01",
        extension_to="49",
        approved_scope="会员营销",
    )
    registry.create_port(
        session,
        code="10690002",
        port_type="business_service",
        content_provider="youpin",
        approved_scope="订单通知、验证码",
    )
    registry.create_content_provider(
        session,
        code="civic",
        name="市应急管理局",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number="91310000MA1FL1234Q",
    )
    registry.verify_content_provider(session, "civic")
    registry.approve_signature(
        session,
        "civic",
        "市应急管理局",
        evidence="演示数据：营业执照与商标注册证 Demo: business licence and trademark",
    )
    registry.create_port(
        session,
        code="12110",
        port_type="public_welfare",
        content_provider="civic",
        approved_scope="预警与公益宣传",
    )
    yp = registry.get_content_provider(session, "youpin")
    for user in DEMO_USERS[:2]:
        consent.record_consent(
            session,
            channel="sms",
            recipient=user,
            content_provider_id=yp.id,
            message_type="promotions",
            max_messages=3,
            period_unit="week",
            valid_until=now + timedelta(days=180),
            evidence={
                "channel": "app",
                "text_shown": "同意接收优品商城会员促销短信，每周最多3条，有效期6个月",
            },
        )
    consent.create_request(
        session,
        channel="sms",
        sender="1069000107",
        recipient=DEMO_USERS[2],
        message_type="promotions",
        max_messages=2,
        period_unit="month",
        valid_until=now + timedelta(days=90),
        pitch="新会员首单立减20元",
    )
    ad = "【优品商城】会员专享：全场春装5折起，满299减50，详询4008123456 回T退订"
    batch.submit(
        session,
        [
            GatewayRequest("sms", "1069000107", DEMO_USERS[0], ad, message_type="promotions"),
            GatewayRequest("sms", "1069000107", DEMO_USERS[3], ad, message_type="promotions"),
            GatewayRequest("sms", "10690002", DEMO_USERS[0], ad, message_type="promotions"),
            GatewayRequest(
                "sms", "10690002", DEMO_USERS[1], "【优品商城】您的验证码是482913，5分钟内有效，请勿泄露。"
            ),
            GatewayRequest(
                "sms",
                "12110",
                DEMO_USERS[1],
                "【市应急管理局】暴雨红色预警：请减少外出，远离河道。",
                kind="emergency",
            ),
        ],
    )
    inbound.receive_reply(session, channel="sms", sender=DEMO_USERS[1], to="1069000107", text="退订")
    inbound.receive_reply(session, channel="sms", sender=DEMO_USERS[0], to="1069000107", text="怎么退订？")

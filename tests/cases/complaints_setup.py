"""Helpers for complaint tests: the gateway's registry and messages in its records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session
from tests.messaging.gw_setup import NOTICE, USER, Reg, build_registry

from piguard.messaging.gateway import submit as gateway
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.records import protect
from piguard.messaging.records import service as records

LOAN = "【优品商城】黑户可贷，无视征信，无抵押秒批，当天到账，详询4008123456"

__all__ = ["LOAN", "NOTICE", "USER", "Reg", "build_registry", "old_message", "sent_notice"]


def sent_notice(session: Session, now: datetime) -> str:
    """A service notice youpin sent through the gateway (allowed); its record's ref."""
    res = gateway.submit(session, [GatewayRequest("sms", "10690002", USER, NOTICE)], now=now)[0]
    assert res.outcome == "allow", res.to_dict()
    assert res.ref is not None
    return res.ref


def old_message(session: Session, reg: Reg, at: datetime, text: str = LOAN) -> str:
    """A message in the records sent before the review's catalogue knew its terms (the gateway's own
    record shape, as ``records.record_row`` writes it): allowed then, complained about now."""
    ref = records.new_ref()
    addr = protect.normalize_address("sms", USER)
    records.write_records(
        session,
        [
            records.record_row(
                ref=ref,
                at=at,
                direction="out",
                channel="sms",
                sender="10690002",
                address=addr,
                recipient_hash=protect.address_hash(addr),
                recipient_masked=protect.mask_address(addr),
                content=text,
                content_has_pi=False,
                outcome="allow",
                status="delivered",
                kind="commercial",
                content_provider_id=reg.youpin_id,
                port_id=reg.business_port_id,
            )
        ],
    )
    return ref

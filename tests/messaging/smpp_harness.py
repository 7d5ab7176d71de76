"""Shared pieces of the SMPP tests: a registry with SMPP accounts, an asyncio loop in a thread for
piguard's server (smpplib, the ESME, is blocking), a test SMS centre built on ``smpp34``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import smpp34
import smpplib.client
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from piguard.core.db import utcnow
from piguard.identity import passwords
from piguard.messaging.registry import service as registry
from piguard.messaging.smpp.accounts import create_account
from piguard.messaging.smpp.bridge import SmppGateway
from piguard.messaging.smpp.config import SmppSettings
from piguard.messaging.subscriptions import consent

T = TypeVar("T")

CP_CODE = "youpin"
SYSTEM_ID = "youpin01"
PASSWORD = "s3cret!A"
PORT = "10690001"  # commercial, extensions 01-49; 10690002 business/service
BUSINESS_PORT = "10690002"
USER = "8613812345678"
USER_E164 = "+8613812345678"
AD = "【优品商城】会员专享：全场春装5折起，满299减50，限时3天，详询4008123456 回T退订"
NOTICE = "【优品商城】您的订单已发货，快递单号SF1234567，请注意查收。"


@dataclass
class Reg:
    youpin_id: int
    civic_id: int


def build(session: Session) -> Reg:
    sp = registry.create_service_provider(
        session, name="示例短信服务", licence_number="B2-20150001", access_codes=["106900", "12110"]
    )
    yp = registry.create_content_provider(
        session,
        code=CP_CODE,
        name="优品商城",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number="91110000600037341L",
    )
    registry.verify_content_provider(session, CP_CODE)
    registry.approve_signature(session, CP_CODE, "优品商城", evidence="营业执照与商标注册证 (test set-up)")
    civic = registry.create_content_provider(
        session,
        code="civic",
        name="市应急管理局",
        service_provider_id=sp.id,
        identity_type="uscc",
        identity_number="91310000MA1FL1234Q",
    )
    registry.verify_content_provider(session, "civic")
    registry.approve_signature(
        session, "civic", "市应急管理局", evidence="营业执照与商标注册证 (test set-up)"
    )
    registry.create_port(
        session,
        code=PORT,
        port_type="commercial",
        content_provider=CP_CODE,
        extension_from="01",
        extension_to="49",
    )
    registry.create_port(session, code=BUSINESS_PORT, port_type="business_service", content_provider=CP_CODE)
    registry.create_port(session, code="12110", port_type="public_welfare", content_provider="civic")
    create_account(
        session,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        content_provider=CP_CODE,
        default_message_type="promotions",
    )
    create_account(
        session, system_id="txonly", password=PASSWORD, content_provider=CP_CODE, bind_types=["tx"]
    )
    create_account(session, system_id="thrtl", password=PASSWORD, content_provider=CP_CODE, window=2)
    session.commit()
    return Reg(yp.id, civic.id)


def give_consent(session: Session, recipient: str = USER_E164) -> int:
    cp = registry.get_content_provider(session, CP_CODE)
    c = consent.record_consent(
        session,
        channel="sms",
        recipient=recipient,
        content_provider_id=cp.id,
        message_type="promotions",
        max_messages=20,
        period_unit="month",
        valid_until=utcnow() + timedelta(days=30),
        evidence={"channel": "web", "text_shown": "同意接收优品商城促销信息，每日最多20条"},
    )
    session.commit()
    return c.id


class LoopThread:
    """An asyncio loop in a daemon thread; ``run`` waits for a coroutine with a bound."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="smpp-test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(_cancel_all(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture()
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    previous = passwords.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield lt
    passwords.use_password_hasher(previous)
    lt.close()


@contextlib.contextmanager
def esme(
    port: int, system_id: str = SYSTEM_ID, password: str = PASSWORD, *, receiver: bool = False
) -> Iterator[smpplib.client.Client]:
    """An smpplib client bound to piguard (transceiver, or receiver)."""
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.connect()
    try:
        if receiver:
            client.bind_receiver(system_id=system_id, password=password)
        else:
            client.bind_transceiver(system_id=system_id, password=password)
        yield client
    finally:
        client.disconnect()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    source_addr: str
    destination_addr: str
    data_coding: int
    esm_class: int
    short_message: bytes
    message_id: str


@dataclass
class SmsCentre:
    """The upstream SMS centre: an ``smpp34`` server that accepts every submit_sm, keeps it, and
    can push deliver_sm (receipts, MO) to the bound ESME (piguard)."""

    port: int
    server: Any = None
    received: list[Received] = field(default_factory=list)
    sessions: dict[str, Any] = field(default_factory=dict)
    binds: int = 0
    _task: Any = None
    _n: int = 0

    async def start(self) -> None:
        self.server = smpp34.Server("127.0.0.1", self.port, system_id="TESTSMSC")
        await self.server.start()
        self._task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        while True:
            ev = await self.server.next()
            if isinstance(ev, smpp34.Esme):
                self.sessions[ev.session_id] = ev
                self.binds += 1
            elif isinstance(ev, smpp34.SubmitSmEvent):
                self._n += 1
                mid = f"smsc{self._n:06d}"
                self.received.append(
                    Received(
                        ev.source_addr,
                        ev.destination_addr,
                        ev.data_coding,
                        ev.esm_class,
                        bytes(ev.short_message),
                        mid,
                    )
                )
                ev.accept(mid)
            elif isinstance(ev, smpp34.Unbound):
                self.sessions.pop(ev.session_id, None)

    async def deliver(
        self, source: str, dest: str, payload: bytes, *, esm_class: int = 0, data_coding: int = 0
    ) -> bool:
        for esme_ in list(self.sessions.values()):
            resp = await esme_.deliver_sm(
                source_addr=source,
                destination_addr=dest,
                short_message=payload,
                esm_class=esm_class,
                data_coding=data_coding,
            )
            return bool(resp.is_success)
        return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            await self.server.stop()


def wait_for(cond: Callable[[], T], timeout: float = 10.0, step: float = 0.05) -> T:
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(step)


@pytest.fixture()
def stack(session: Session, loop_thread: LoopThread) -> Iterator[tuple[SmppGateway, int, SmsCentre]]:
    """The registry built, a test SMS centre, and piguard's SMPP server bound upstream to it."""
    build(session)
    smsc = SmsCentre(free_port())
    loop_thread.run(smsc.start())
    settings = SmppSettings(
        upstream_host="127.0.0.1",
        upstream_port=smsc.port,
        upstream_system_id="piguard",
        upstream_password="up-pass",
        dispatch_interval=0.2,
        inactivity_timeout=30,
        workers=2,
    )
    gw = SmppGateway(settings)
    _h, port = loop_thread.run(gw.start("127.0.0.1", 0))
    wait_for(lambda: gw.upstream is not None and gw.upstream.bound, 10)
    yield gw, port, smsc
    loop_thread.run(gw.stop())
    loop_thread.run(smsc.stop())

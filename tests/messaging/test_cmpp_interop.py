"""Interop with a CMPP client written by others: PyPI's ``cmppy`` (a CMPP 3.0 client, Apache-2.0)
connects to piguard's ISMG, submits, and reads its responses; the same decisions as SMPP.

cmppy stamps CMPP_CONNECT with the host's local time (``time.localtime``), as the specification
means China time; it runs here in a process of its own with TZ=Asia/Shanghai, as on an SP's machine
in China, and with TZ=UTC to show that a clock eight hours off is refused (Status 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.models import MessageRecord

from .smpp_harness import BUSINESS_PORT, NOTICE, USER
from .smpp_harness import loop_thread as loop_thread  # the fixture
from .test_cmpp_server import SECRET, SP_ID
from .test_cmpp_server import stack as stack  # the fixture

pytest.importorskip("cmppy")
pytestmark = pytest.mark.timeout(90)

_SCRIPT = """
import json, sys
import cmppy
from cmppy.request import SubmitReq
port, sp_id, secret, text, src, dest = sys.argv[1:7]
client = cmppy.Cmppy("127.0.0.1", int(port), sp_id, secret)
res = client.request(SubmitReq(sp_id, text, src_id=src, dest_terminal_id=[dest]))
print("RESULT " + json.dumps(None if res is None else {"result": res.result, "msg_id": res.msg_id}))
"""


def _cmppy(
    port: int, text: str, *, secret: str = SECRET, src: str = BUSINESS_PORT, tz: str = "Asia/Shanghai"
):  # type: ignore[no-untyped-def]
    env = {**os.environ, "TZ": tz}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(port), SP_ID, secret, text, src, USER],
        capture_output=True, text=True, env=env, timeout=30, check=True,
    )  # fmt: skip
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    got: dict[str, int] | None = json.loads(line[len("RESULT ") :])
    return got


@pytest.mark.obligation("O31-10", "O31-12", "O31-16")
def test_cmppy_connects_submits_and_reads_results(session: Session, stack: tuple[int, int]) -> None:
    _smpp, port = stack
    allowed = _cmppy(port, NOTICE)
    assert allowed is not None and allowed["result"] == 0 and allowed["msg_id"] != 0
    session.expire_all()
    rec = session.scalars(select(MessageRecord).order_by(MessageRecord.id.desc())).first()
    assert rec is not None and rec.outcome == "allow" and rec.content == NOTICE
    refused = _cmppy(port, "【优品商城】百家乐真人荷官，首存送彩金，回T退订", src="1069000107")
    assert refused == {"result": 65, "msg_id": 0}  # prohibited content, as SMPP's 0x401
    session.expire_all()
    rec = session.scalars(select(MessageRecord).order_by(MessageRecord.id.desc())).first()
    assert rec is not None and rec.outcome == "refuse" and "O31-16" in rec.obligations
    # a wrong secret: cmppy's connect is refused and it gives up (None)
    assert _cmppy(port, NOTICE, secret="not-the-secret") is None
    # China time is the protocol's: a client stamping UTC is eight hours off and refused
    assert _cmppy(port, NOTICE, tz="UTC") is None

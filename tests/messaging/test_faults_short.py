"""The fault suite (``bench/faults/``) in short: the real ``piguard sms smpp-serve`` as a process,
killed with SIGKILL mid-drain, and the fault SMS centre throttling and going away, on each backend.
Bounded loops, loopback only; the figures asserted are counts, never times."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from tests.conftest import POSTGRES_URL

from piguard.core import db

FAULTS = Path(__file__).resolve().parents[2] / "bench" / "faults"


def _load(name: str) -> ModuleType:
    if str(FAULTS) not in sys.path:
        sys.path.insert(0, str(FAULTS))
    spec = importlib.util.spec_from_file_location(f"faults_{name}", FAULTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture()
def fault_env(backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if backend == "postgresql":
        monkeypatch.setenv("PIGUARD_BENCH_POSTGRES_URL", POSTGRES_URL or "")
    yield backend
    with __import__("contextlib").suppress(Exception):
        db.get_engine().dispose()
    db.set_engine(None)
    os.environ.pop("PIGUARD_DATABASE_URL", None)


@pytest.mark.obligation("O31-11")
def test_dispatcher_kills_lose_nothing_and_send_twice_at_most_the_window(fault_env: str) -> None:
    f = _load("dispatcher_kill").run(fault_env, messages=200, kills=1, window=5, timeout=60)
    assert f["accepted"] == 200
    assert f["lost"] == 0 and f["duplicated"] == 0
    assert f["sent_twice"] <= f["bound"] == 5


@pytest.mark.obligation("O31-11")
def test_throttling_and_an_outage_deliver_everything(fault_env: str) -> None:
    f = _load("smsc_faults").run(fault_env, messages=100, throttle_every=5, outage=0.5, window=5, timeout=60)
    assert f["accepted"] == 100
    assert f["lost"] == 0 and f["duplicated"] == 0 and f["failed"] == 0
    assert f["sent_twice"] <= f["bound"]


@pytest.mark.slow
@pytest.mark.obligation("O31-11")
def test_server_killed_after_a_200_loses_nothing_and_resubmissions_are_answered(fault_env: str) -> None:
    f = _load("server_kill").run(fault_env, messages=300, kills=1, batch=300, timeout=60)
    assert f["accepted"] == 300
    assert f["lost"] == 0 and f["duplicated"] == 0 and f["sent_twice"] == 0
    assert f["not_duplicate"] == 0


@pytest.mark.slow
@pytest.mark.obligation("O24-13.6")
def test_an_emptied_audit_log_is_caught_against_the_kept_head_line(fault_env: str) -> None:
    f = _load("audit_tamper").run(fault_env, kinds=["log emptied"])
    assert f == {"detected": 1, "kinds": 1}

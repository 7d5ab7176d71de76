"""The batch pause of the cyclic garbage collector: off while any batch runs, on again after the
last one, whatever happened inside; left alone when someone else had turned it off."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from piguard.core.gcpause import NoCollectionDuringBatch


@pytest.fixture()
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_paused_during_the_batch_and_back_after_an_error(collector_on: None) -> None:
    pause = NoCollectionDuringBatch()
    with pytest.raises(RuntimeError), pause:
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_batches_keep_it_paused_until_the_last_ends(collector_on: None) -> None:
    pause = NoCollectionDuringBatch()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with pause:
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    with pause:
        t.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other batch still runs
    release.set()
    t.join(10)
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off(collector_on: None) -> None:
    gc.disable()
    pause = NoCollectionDuringBatch()
    with pause:
        pass
    assert not gc.isenabled()


def test_the_gateway_submit_runs_paused(collector_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from piguard.messaging.gateway import submit as gateway

    seen: list[bool] = []

    def inner(*_a: object, **_k: object) -> list[object]:
        seen.append(gc.isenabled())
        return []

    monkeypatch.setattr(gateway, "_submit", inner)
    assert gateway.submit(None, []) == []  # type: ignore[arg-type]
    assert seen == [False] and gc.isenabled()

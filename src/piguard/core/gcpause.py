"""Pausing CPython's cyclic garbage collector while a batch of messages is decided and recorded."""

from __future__ import annotations

import gc
import threading


class NoCollectionDuringBatch:
    """No cyclic garbage collection while a batch is being decided and recorded.

    A batch keeps ~25 container objects per message alive until its response is sent (requests,
    evaluations, record rows, results); CPython's collector, run every 700 allocations, promotes
    them to the oldest generation, and every few batches a full collection then walks the whole
    process heap (the registry snapshot, compiled rules, the app): measured, about a quarter of
    the HTTP batch's CPU. Paused for the batch, those objects die by reference counting when it
    ends and are never traversed. Process-wide, so counted across the threads serving batches;
    when batches overlap without a gap, a young-generation collection runs after any batch that
    leaves more than ``_YOUNG_LIMIT`` objects pending, so cyclic garbage stays bounded."""

    _YOUNG_LIMIT = 200_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._paused = False

    def __enter__(self) -> None:
        with self._lock:
            self._active += 1
            if self._active == 1 and gc.isenabled():
                gc.disable()
                self._paused = True

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._active -= 1
            if not self._paused:
                return
            if self._active == 0:
                self._paused = False
                gc.enable()
            elif gc.get_count()[0] > self._YOUNG_LIMIT:
                gc.collect(0)


#: the process's one pause (the gateway's batch submit and the HTTP batch view share it)
batch_gc = NoCollectionDuringBatch()

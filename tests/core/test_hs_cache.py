"""Compiled Hyperscan databases cached on disk (issue 10, start-up time): a new process loads the
content-review and PI-discovery databases instead of compiling them, and reviews the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from piguard.core import hs_cache

hyperscan = pytest.importorskip("hyperscan")

_BUILD = """
from piguard.messaging.review.rules import load_rules
from piguard.discovery.engine import default_engine
rules = load_rules(use_env=False, backend="hyperscan")  # the compiled kernel's own matcher otherwise
assert rules.backend == "hyperscan"
default_engine()
"""


def _build_in_new_process(cache: Path, seed: str) -> None:
    # the Python originals: with the kernels, discovery's dictionary pass is compiled (dictscan) and
    # compiles no Hyperscan database, and the review uses Hyperscan only when asked (above)
    env = {
        **os.environ,
        hs_cache.CACHE_DIR_ENV: str(cache),
        "PYTHONHASHSEED": seed,
        "PIGUARD_PURE_PYTHON": "1",
    }
    subprocess.run([sys.executable, "-c", _BUILD], env=env, check=True, timeout=120)


def test_a_second_process_loads_the_databases_the_first_compiled(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _build_in_new_process(cache, "1")
    files = sorted(cache.glob("hs-*.db"))
    assert len(files) == 3  # review rules; discovery words as UTF-32 and as ASCII
    stamps = {f: f.stat().st_mtime_ns for f in files}
    # Another hash seed (set and dict order differ): the same files, read and not rewritten.
    _build_in_new_process(cache, "2")
    assert sorted(cache.glob("hs-*.db")) == files
    assert {f: f.stat().st_mtime_ns for f in files} == stamps


def test_rules_loaded_from_the_cache_review_as_compiled_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from piguard.messaging.review import ReviewContext, reviewer_for
    from piguard.messaging.review.rules import clear_rules_cache, load_rules

    texts = ["【优品商城】低价出售银行卡，加微信 abc123", "【优品商城】会员日全场五折，回T退订", "您好"]
    monkeypatch.setenv(hs_cache.CACHE_DIR_ENV, "off")
    clear_rules_cache()
    hs = "hyperscan"  # the compiled kernel's own matcher otherwise (it needs no cache)
    compiled = [
        reviewer_for(load_rules(use_env=False, backend=hs)).review(t, ReviewContext()).to_dict()
        for t in texts
    ]
    monkeypatch.setenv(hs_cache.CACHE_DIR_ENV, str(tmp_path))
    for _ in range(2):  # the first stores, the second loads
        clear_rules_cache()
        rules = load_rules(use_env=False, backend=hs)
        assert [reviewer_for(rules).review(t, ReviewContext()).to_dict() for t in texts] == compiled
    assert len(list(tmp_path.glob("hs-*.db"))) == 1
    clear_rules_cache()


def test_a_damaged_cache_file_is_compiled_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hs_cache.CACHE_DIR_ENV, str(tmp_path))
    calls: list[int] = []

    def build() -> tuple[object, list[int]]:
        calls.append(1)
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=[b"abc"], ids=[7], elements=1, flags=[0])
        return db, [7]

    parts = ("test", [b"abc"], [7])
    db, meta = hs_cache.compile_cached(hyperscan, hyperscan.HS_MODE_BLOCK, parts, build)
    assert calls == [1] and meta == [7]
    [path] = tmp_path.glob("hs-*.db")
    _, meta = hs_cache.compile_cached(hyperscan, hyperscan.HS_MODE_BLOCK, parts, build)
    assert calls == [1] and meta == [7]  # loaded
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    db, meta = hs_cache.compile_cached(hyperscan, hyperscan.HS_MODE_BLOCK, parts, build)
    assert calls == [1, 1]
    found: list[int] = []
    db.scan(b"xxabcxx", match_event_handler=lambda i, *_: found.append(i))
    assert found == [7]
    # and the rewritten file loads again
    hs_cache.compile_cached(hyperscan, hyperscan.HS_MODE_BLOCK, parts, build)
    assert calls == [1, 1]


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hs_cache.CACHE_DIR_ENV, "off")
    assert hs_cache.cache_dir() is None
    monkeypatch.setenv(hs_cache.CACHE_DIR_ENV, str(tmp_path / "c"))
    assert hs_cache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(hs_cache.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hs_cache.cache_dir() == tmp_path / "xdg" / "piguard"

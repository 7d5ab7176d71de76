"""The optional C kernels: built by the install hook, same results as their Python originals,
and a clean fallback where no compiler exists or a module is stale."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piguard import _native
from piguard.discovery import validators as v

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402

HAVE_CC = shutil.which((os.environ.get("CC") or "cc").split()[0]) is not None


def _tree(tmp_path: Path, *names: str) -> Path:
    dest = tmp_path / hatch_build.NATIVE
    dest.mkdir(parents=True)
    for name in names:
        shutil.copy(ROOT / hatch_build.NATIVE / name, dest / name)
    return tmp_path


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"piguard._native.{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_kernel_is_compiled_where_ci_asks_for_it():
    """CI's machine has a compiler: there a missing or stale kernel is a failed build, not a fallback."""
    if not os.environ.get("PIGUARD_REQUIRE_NATIVE"):
        pytest.skip("PIGUARD_REQUIRE_NATIVE is not set (.ci/run sets it where a C compiler exists)")
    status = _native.status()
    assert status and set(status.values()) == {"compiled"}, status


def test_pure_python_is_used_when_asked(monkeypatch):
    monkeypatch.setenv("PIGUARD_PURE_PYTHON", "1")
    assert _native.load("checks") is None
    assert set(_native.status().values()) == {"pure-python (asked)"}


def test_no_compiler_means_no_module_and_a_warning(tmp_path, monkeypatch):
    root = _tree(tmp_path, "checks.c")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    said: list[str] = []
    assert hatch_build.build_kernels(root, log=said.append) == []
    assert "checks.c not compiled" in said[0] and "pure-Python original" in said[0]
    assert not list((root / hatch_build.NATIVE).glob("*.so*")), "nothing half-written is left"


def test_a_kernel_that_does_not_compile_is_skipped_and_the_others_built(tmp_path):
    if not HAVE_CC:
        pytest.skip("no C compiler on this machine")
    root = _tree(tmp_path, "checks.c")
    (root / hatch_build.NATIVE / "broken.c").write_text("this is not C;\n")
    said: list[str] = []
    built = hatch_build.build_kernels(root, log=said.append)
    assert [p.name.split(".")[0] for p in built] == ["checks"]
    assert any("broken.c not compiled" in s for s in said)


def test_a_module_built_from_another_source_is_not_used(tmp_path):
    if not HAVE_CC:
        pytest.skip("no C compiler on this machine")
    root = _tree(tmp_path, "checks.c")
    (built,) = hatch_build.build_kernels(root)
    source = root / hatch_build.NATIVE / "checks.c"
    module = _import(built, "checks")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == module.SOURCE_HASH
    assert _native.built_from(module, source)
    source.write_text(source.read_text() + "\n/* edited after the build */\n")
    assert not _native.built_from(module, source)


def test_no_native_setting_skips_the_build(tmp_path, monkeypatch):
    root = _tree(tmp_path, "checks.c")
    monkeypatch.setenv("PIGUARD_NO_NATIVE", "1")
    said: list[str] = []
    assert hatch_build.build_kernels(root, log=said.append) == []
    assert "PIGUARD_NO_NATIVE" in said[0]


checks = _native.load("checks")
needs_checks = pytest.mark.skipif(checks is None, reason="the checks kernel is not compiled here")
digits = st.text(alphabet="0123456789", max_size=24)
anything = st.text(max_size=24) | st.text(alphabet="0123456789０１２３４５６７８９Xx ²-", max_size=20)


@needs_checks
@given(digits | anything)
def test_luhn_kernel_agrees_with_the_original(s):
    assert checks.luhn_ok(s) is v.py_luhn_ok(s)


@needs_checks
@given(digits | anything)
def test_id_check_digit_kernel_agrees_with_the_original(s):
    try:
        expected = v.py_id_check_digit(s)
    except ValueError:
        with pytest.raises(ValueError):
            checks.id_check_digit(s)
        return
    assert checks.id_check_digit(s) == expected


@needs_checks
def test_kernels_are_what_the_validators_use_and_refuse_wrong_types():
    assert v.luhn_ok is checks.luhn_ok and v.id_check_digit is checks.id_check_digit
    assert v.luhn_ok("6222020200112233446") is v.py_luhn_ok("6222020200112233446")
    assert v.id_check_digit("11010519491231002") == "X"
    with pytest.raises(TypeError):
        checks.luhn_ok(b"4111")

"""The rules matrix: a static scan of @carries and pytest.mark.obligation markers."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from piguard.core.errors import PiguardError
from piguard.regulations import service
from piguard.regulations.capabilities import Capabilities, parse
from piguard.regulations.matrix import build_matrix, clear_cache, find_tests_dir, package_dir
from piguard.regulations.schemas import MatrixOut, MatrixRow


def _tree(tmp_path: Path, code: dict[str, str], tests: dict[str, str] | None) -> tuple[Path, Path | None]:
    src = tmp_path / "src" / "piguard"
    for rel, body in code.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(body), encoding="utf-8")
    tests_dir = None
    if tests is not None:
        tests_dir = tmp_path / "tests"
        for rel, body in tests.items():
            path = tests_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dedent(body), encoding="utf-8")
    return src, tests_dir


def _row(m: MatrixOut, oid: str) -> MatrixRow:
    return next(r for r in m.rows if r.id == oid)


CODE = {
    "__init__.py": "",
    "cases/__init__.py": "",
    "cases/service.py": """\
        from piguard.regulations.markers import carries
        from piguard.regulations import markers

        @carries("O24-12")
        def open_complaint():
            pass

        class Clock:
            @markers.carries("O31-27", "O24-12")
            def deadline(self):
                pass

        def outer():
            @carries("O31-25")
            def inner():
                pass
            return inner
        """,
    "messaging/subscriptions/consent.py": """\
        from __future__ import annotations
        from typing import TYPE_CHECKING
        from piguard.regulations.markers import carries

        __obligations__ = ("O31-18.1",)

        if TYPE_CHECKING:
            pass
        else:
            @carries("O31-20")
            class OptOut:
                pass
        """,
    "plain.py": "def nothing():\n    return 1\n",
}

TESTS = {
    "cases/test_clock.py": """\
        import pytest

        pytestmark = [pytest.mark.obligation("O31-27"), pytest.mark.slow]

        def test_transfer():
            pass

        @pytest.mark.obligation("O24-12")
        def test_reply():
            pass

        def helper():
            pass

        @pytest.mark.obligation("O31-28")
        class TestStop:
            def test_a(self):
                pass

            @pytest.mark.obligation("O31-16")
            def test_b(self):
                pass
        """,
    "messaging/test_optout.py": """\
        from pytest import mark

        pytestmark = mark.obligation("O31-20")

        def test_td():
            pass
        """,
    "conftest.py": "import pytest\n",
}


@pytest.fixture()
def fake(tmp_path: Path) -> MatrixOut:
    src, tests = _tree(tmp_path, CODE, TESTS)
    return build_matrix(src, tests)


def test_code_locations_are_module_qualname_line(fake: MatrixOut) -> None:
    locs = {loc.location for loc in _row(fake, "O24-12").code}
    assert locs == {"piguard.cases.service:open_complaint:5", "piguard.cases.service:Clock.deadline:10"}
    assert [c.location for c in _row(fake, "O31-25").code] == [
        "piguard.cases.service:outer.<locals>.inner:15"
    ]
    assert [c.location for c in _row(fake, "O31-18.1").code] == [
        "piguard.messaging.subscriptions.consent:<module>:5"
    ]
    assert [c.qualname for c in _row(fake, "O31-20").code] == ["OptOut"]  # found inside if/else


def test_tests_are_path_and_name(fake: MatrixOut) -> None:
    def nodeids(oid: str) -> set[str]:
        tests = _row(fake, oid).tests
        assert tests is not None
        return {t.nodeid for t in tests}

    # module pytestmark (a list) applies to every test in the module, not to helpers
    assert nodeids("O31-27") == {
        "tests/cases/test_clock.py::test_transfer",
        "tests/cases/test_clock.py::test_reply",
        "tests/cases/test_clock.py::TestStop",
    }
    assert nodeids("O24-12") == {"tests/cases/test_clock.py::test_reply"}
    assert nodeids("O31-28") == {"tests/cases/test_clock.py::TestStop"}
    assert nodeids("O31-16") == {"tests/cases/test_clock.py::TestStop::test_b"}
    assert nodeids("O31-20") == {"tests/messaging/test_optout.py::test_td"}


def _caps(entries: dict[str, list[dict[str, object]]]) -> Capabilities:
    return parse(
        {
            "capabilities": {
                oid: {"en": f"{oid} capability", "zh": f"{oid} 能力", "parts": parts}
                for oid, parts in entries.items()
            }
        }
    )


def _part(key: str, under: str | list[str], name: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {"key": key, "under": under, "en": f"{key} part", "zh": f"{key} 部分"}
    if name is not None:
        out["name"] = name
    return out


FAKE_CAPS = {
    "O24-12": [_part("intake", "piguard.cases", "open_"), _part("clock", "piguard.cases", "Clock")],
    "O31-27": [_part("clock", "piguard.cases"), _part("calendar", "piguard.core.calendar")],
    "O31-20": [_part("opt-out", ["piguard.consent", "piguard.messaging"])],
    "O31-25": [_part("cases", "piguard.cases")],  # code only
    "O31-18.1": [_part("gateway", "piguard.messaging")],  # code only
    "O31-28": [_part("stop", "piguard.cases")],  # tests only
    "CSL-43": [_part("requests", "piguard.rights")],  # neither
}


def test_status_is_judged_by_the_parts_of_the_capability(tmp_path: Path) -> None:
    src, tests = _tree(tmp_path, CODE, TESTS)
    m = build_matrix(src, tests, caps=_caps(FAKE_CAPS))
    assert _row(m, "O24-12").status == "built"  # both parts: code there, and a test
    assert _row(m, "O31-20").status == "built"  # any of the listed prefixes
    o31_27 = _row(m, "O31-27")
    assert o31_27.status == "partial"
    assert [p.key for p in o31_27.missing] == ["calendar"]
    assert [p.code for p in o31_27.parts if p.met] == [["piguard.cases.service:Clock.deadline:10"]]
    assert _row(m, "O31-25").status == "not yet"  # code without a test builds nothing
    assert _row(m, "O31-18.1").status == "not yet"
    assert _row(m, "O31-28").status == "not yet"  # tests without code either
    assert _row(m, "CSL-43").status == "not yet"
    assert _row(m, "O24-4").status == "not yet" and _row(m, "O24-4").capability is None
    assert m.tests_scanned and not m.notes and not m.errors
    c = m.counts
    assert (c.built, c.partial, c.total) == (2, 1, 60)
    assert c.built + c.partial + c.not_yet == 60 == len(m.rows)


def test_a_marker_outside_the_capability_builds_nothing(tmp_path: Path) -> None:
    # The calendar carrying O24-12 and O31-27 is not the complaint case with its clock.
    src, tests = _tree(
        tmp_path,
        {
            "core/calendar.py": """\
                from piguard.regulations.markers import carries

                @carries("O24-12", "O31-27", "O31-28")
                def deadline_in_days():
                    pass
                """
        },
        {
            "test_c.py": 'import pytest\n\n@pytest.mark.obligation("O24-12", "O31-27", "O31-28")\ndef test_c():\n    pass\n'
        },
    )
    m = build_matrix(src, tests)  # the packaged capabilities
    assert _row(m, "O24-12").status == "not yet"
    assert _row(m, "O24-12").code  # still listed
    o31_27 = _row(m, "O31-27")
    assert o31_27.status == "partial" and [p.key for p in o31_27.missing] == ["clocks"]
    assert _row(m, "O31-28").status == "not yet"


def test_the_fake_tree_against_the_packaged_capabilities(fake: MatrixOut) -> None:
    # Complaint code under piguard.cases meets only that part of O24-12; the lint and the
    # published intake address (piguard.inventory) are still missing.
    row = _row(fake, "O24-12")
    assert row.status == "partial"
    assert {p.key for p in row.missing} == {"lint", "intake-address"}
    assert all(p.under == ["piguard.inventory"] for p in row.missing)


def test_unknown_ids_are_errors_with_suggestions(tmp_path: Path) -> None:
    src, tests = _tree(
        tmp_path,
        {
            "x.py": 'from piguard.regulations.markers import carries\n\n@carries("O31-18.3")\ndef f():\n    pass\n'
        },
        {
            "test_x.py": 'import pytest\n\n@pytest.mark.obligation("O24-99", "O24-12")\ndef test_y():\n    pass\n'
        },
    )
    m = build_matrix(src, tests)
    errors = {(e.path, e.line, e.id, e.suggestion) for e in m.errors}
    assert ("piguard/x.py", 4, "O31-18.3", "O31-18.2") in errors
    assert ("tests/test_x.py", 4, "O24-99", "O24-19") in errors
    assert len(m.errors) == 2
    assert all("unknown obligation id" in e.message for e in m.errors)
    row = _row(m, "O24-12")  # the known id on the same marker still counts
    assert [t.nodeid for t in row.tests or []] == ["tests/test_x.py::test_y"]
    assert row.status == "not yet"  # a test alone builds nothing


def test_module_constants_resolve(tmp_path: Path) -> None:
    src, tests = _tree(
        tmp_path,
        {
            "a.py": """\
                from piguard.regulations.markers import carries
                OBLIGATION = "O24-13.6"
                BOTH: tuple[str, ...] = ("O24-10", "CSL-40")
                __obligations__ = (OBLIGATION,)

                @carries(OBLIGATION, *BOTH)
                def record():
                    pass
                """
        },
        {
            "test_a.py": 'import pytest\nIDS = ("O24-13.6",)\n\n@pytest.mark.obligation(*IDS)\ndef test_a():\n    pass\n'
        },
    )
    m = build_matrix(src, tests, caps=_caps({"O24-13.6": [_part("log", "piguard.a")]}))
    assert not m.errors
    assert {c.location for c in _row(m, "O24-13.6").code} == {"piguard.a:<module>:4", "piguard.a:record:7"}
    assert [c.location for c in _row(m, "CSL-40").code] == ["piguard.a:record:7"]
    assert _row(m, "O24-13.6").status == "built"


def test_non_literal_marker_and_unparsable_file_are_errors(tmp_path: Path) -> None:
    src, tests = _tree(
        tmp_path,
        {
            "a.py": "from piguard.regulations.markers import carries\n\n@carries(make_id())\ndef f():\n    pass\n",
            "b.py": "def broken(:\n    carries\n",
        },
        {},
    )
    m = build_matrix(src, tests)
    messages = sorted(e.message for e in m.errors)
    assert len(messages) == 2
    assert any("not a string literal" in msg for msg in messages)
    assert any(msg.startswith("cannot parse") for msg in messages)


def test_without_tests_directory_the_matrix_says_so(tmp_path: Path) -> None:
    src, _ = _tree(tmp_path, CODE, None)
    m = build_matrix(src, tmp_path / "no-such-tests")
    assert not m.tests_scanned
    assert m.notes and "not found" in m.notes[0]
    assert all(r.tests is None for r in m.rows)
    assert _row(m, "O24-12").status == "partial"


def test_an_installed_package_has_no_tests_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "lib" / "site-packages" / "piguard"
    site.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert find_tests_dir(site) is None
    m = build_matrix(site)
    assert not m.tests_scanned and "installed package" in m.notes[0]


def test_a_checkout_finds_its_tests() -> None:
    tests = find_tests_dir(package_dir())
    assert tests is not None and (tests / "regulations").is_dir()


def test_the_real_tree_is_scanned_and_sees_these_markers() -> None:
    # No wall-clock assertion: the machines are shared; `piguard rules matrix` speed is not a test.
    clear_cache()
    m = build_matrix()
    row = _row(m, "O31-34")
    assert "piguard.regulations.service:penalty_for" in {f"{c.module}:{c.qualname}" for c in row.code}
    assert row.tests and any(t.path.startswith("tests/regulations/") for t in row.tests)
    # The penalty data (piguard.regulations) and the exposure view (piguard.oversight) are both there.
    assert row.status == "built" and not row.missing
    met_by = {p.key: {c.split(":")[0] for c in p.code} for p in row.parts}
    assert met_by["penalties"] == {"piguard.regulations.service"}
    assert "piguard.oversight.exposure" in met_by["exposure"]


@pytest.mark.parametrize("oid", ["O24-12", "O24-13.3", "O31-27", "O31-28"])
def test_rows_that_used_to_claim_built_are_built_now_by_their_own_parts(oid: str) -> None:
    # Issue 9.10: any marker used to make a row "built" (the calendar for O24-12 and O31-27, masking
    # for O24-13.3, the manual suspension switch for O31-28). They are built now because every part
    # is met by code inside the part's own packages (cases, issue 8; the bulk review, issue 9.3).
    row = _row(build_matrix(), oid)
    assert row.status == "built" and not row.missing, [(p.key, p.met) for p in row.parts]
    for part in row.parts:
        assert part.code and all(any(c.split(":")[0].startswith(u) for u in part.under) for c in part.code)
    assert row.capability is not None


def test_a_row_still_to_build_names_what_is_missing() -> None:
    rows = [r for r in build_matrix().rows if r.status != "built"]
    if not rows:
        pytest.skip("every obligation is built")
    for row in rows:
        assert row.missing and all(p.zh and p.en and p.under for p in row.missing), row.id
        assert row.capability is not None


def test_csl_42_1_is_built_by_its_own_parts() -> None:
    # the sharing register (inventory), the sharing decision (consent), de-identification (discovery)
    row = _row(build_matrix(), "CSL-42.1")
    assert row.status == "built" and not row.missing, [(p.key, p.met) for p in row.parts]
    assert {p.key for p in row.parts} == {"sharing-register", "sharing-decision", "deidentification"}
    for part in row.parts:
        assert part.code and all(any(c.split(":")[0].startswith(u) for u in part.under) for c in part.code)


def test_the_missing_parts_of_the_known_gaps() -> None:
    m = build_matrix()
    # Complaint cases with their clocks (piguard.cases) made O24-12 and O31-27 built.
    for oid, key in (("O24-12", "complaint-cases"), ("O31-27", "clocks")):
        row = _row(m, oid)
        assert row.status == "built" and not row.missing, oid
        assert any(p.key == key and p.met and p.under == ["piguard.cases"] for p in row.parts)
    # O31-28: each part met only by the function that does it (issue 8)
    o31_28 = _row(m, "O31-28")
    assert o31_28.status == "built" and not o31_28.missing
    met_by = {p.key: {c.split(":")[1] for c in p.code} for p in o31_28.parts}
    assert met_by["automatic-stop"] == {"auto_stop"}
    assert met_by["evidence"] == {"keep_evidence"}
    assert met_by["report"] == {"draft_report"}
    # The bulk-operation review (piguard.oversight.bulk, issue 9.3) made O24-13.3 built.
    row = _row(m, "O24-13.3")
    assert row.status == "built" and not row.missing
    assert any(
        p.key == "maker-checker" and p.met and p.under == ["piguard.oversight.bulk"] for p in row.parts
    )
    # A met part is met by markers inside its own packages, never by one elsewhere.
    for row in m.rows:
        for part in row.parts:
            assert part.met == bool(part.code) or not row.tests
            for loc in part.code:
                module = loc.split(":", 1)[0]
                assert any(module == u or module.startswith(u + ".") for u in part.under), (row.id, loc)


def test_every_marker_in_the_repository_names_a_known_obligation() -> None:
    m = build_matrix()
    assert m.errors == [], "\n".join(f"{e.path}:{e.line}: {e.message}" for e in m.errors)


def test_service_filters_by_status(fake: MatrixOut, tmp_path: Path) -> None:
    m = service.matrix(status="not yet", src_root=tmp_path / "src" / "piguard", tests_root=tmp_path / "tests")
    assert m.rows and all(r.status == "not yet" for r in m.rows)
    assert m.counts.total == 60  # counts stay those of the whole matrix
    with pytest.raises(PiguardError) as exc:
        service.matrix(status="done")
    assert exc.value.code == "validation_error"

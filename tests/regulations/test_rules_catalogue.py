"""The obligations as data: the 60 ids of REQUIREMENTS.md, their texts, titles and penalties."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from piguard.core.errors import PiguardError
from piguard.regulations import service
from piguard.regulations.catalogue import catalogue, data_dir, load_catalogue

ID_RE = re.compile(r"\b(?:O24|O31|CSL|CRL|NPC|GC)-\d+(?:\.\d+)?\b")


def requirement_rows(shared: Path) -> list[tuple[str, str, str, str]]:
    """(id, section, obligation text, capability) for every table row of REQUIREMENTS.md."""
    rows = []
    section = None
    for line in (shared / "REQUIREMENTS.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^## ([A-G])\. ", line)
        if m:
            section = m.group(1)
            continue
        if section and line.startswith("| ") and not line.startswith("| id"):
            ids, text, capability = (c.strip() for c in line.strip().strip("|").split("|"))
            for oid in ID_RE.findall(ids):
                rows.append((oid, section, text, capability))
    return rows


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_ids_are_exactly_those_of_requirements(shared_dir: Path) -> None:
    expected = {row[0] for row in requirement_rows(shared_dir)}
    assert len(expected) == 60
    assert service.ids() == expected


def test_every_obligation_has_titles_text_and_what_piguard_does() -> None:
    obs = service.obligations()
    assert len(obs) == 60
    for ob in obs:
        assert re.search(r"[\u4e00-\u9fff]", ob.title_zh), ob.id
        assert ob.title_en.strip() and ob.title_en.isascii(), ob.id
        assert len(ob.text) > 20, ob.id
        assert ob.piguard_does.en and re.search(r"[\u4e00-\u9fff]", ob.piguard_does.zh), ob.id
        assert ob.sections and set(ob.sections) <= set("ABCDEFG"), ob.id
        src = catalogue().sources[ob.source]
        assert src.name_zh and src.name_en and src.file
        # the text field matches the source's language
        assert ob.text_zh if src.language == "zh" else ob.text_en, ob.id


def test_sections_and_capabilities_match_requirements(shared_dir: Path) -> None:
    expected: dict[str, list[tuple[str, str, str]]] = {}
    for oid, section, text, capability in requirement_rows(shared_dir):
        expected.setdefault(oid, []).append((section, text, capability))
    for ob in service.obligations():
        got = [(r.section, r.obligation, r.capability) for r in ob.requirements]
        assert got == expected[ob.id], ob.id


def test_article_texts_are_quoted_verbatim_from_the_sources(shared_dir: Path) -> None:
    cat = catalogue()
    for ob in service.obligations():
        src = cat.sources[ob.source]
        source_text = _squash((shared_dir / "regulations" / src.file).read_text(encoding="utf-8"))
        for line in ob.text.splitlines():
            assert _squash(line) in source_text, f"{ob.id}: {line[:60]}..."
    for pen in cat.penalties.values():
        src = cat.sources[pen.source]
        source_text = _squash((shared_dir / "regulations" / src.file).read_text(encoding="utf-8"))
        for line in (pen.text_zh or pen.text_en or "").splitlines():
            assert _squash(line) in source_text, pen.id


def test_article_text_mentions_its_article() -> None:
    assert service.obligation("O24-12").text_en.startswith("Article 12")  # type: ignore[union-attr]
    assert "15 days" in (service.obligation("O24-12").text_en or "")
    assert "type, frequency, and period" in (service.obligation("O31-18.2").text_en or "")
    assert "(ⅵ) Record the personnel" in (service.obligation("O24-13.6").text_en or "")
    assert (service.obligation("NPC-7").text_zh or "").startswith("七、")
    assert (service.obligation("GC-111").text_zh or "").startswith("第111条")


@pytest.mark.obligation("O24-22", "O24-23", "O31-34")
@pytest.mark.parametrize(
    ("oid", "penalty", "paragraphs"),
    [
        ("O24-8", "O24-22", ()),
        ("O24-12", "O24-22", ()),
        ("O24-9.1", "O24-23", ()),
        ("O24-9.4", "O24-23", ()),
        ("O24-13.6", "O24-23", ()),
        ("O24-16", "O24-23", ()),
        ("O24-17", "O24-23", (2,)),  # only the second paragraph (providing materials) is punished
        ("O31-7", "O31-34", ()),
        ("O31-11", "O31-34", ()),
        ("O31-18.2", "O31-34", ()),
        ("O31-21", "O31-34", ()),
        ("O31-27", "O31-34", (3,)),  # the provider's answer, not the reporting centre's transfer
        ("O31-6", "O31-33", (1,)),
        ("O31-16", "O31-35", ()),
        ("NPC-7", "NPC-11", ()),
    ],
)
def test_penalty_article_is_derived_from_covers(oid: str, penalty: str, paragraphs: tuple[int, ...]) -> None:
    link = service.obligation(oid).penalty
    assert link is not None
    assert (link.id, link.paragraphs) == (penalty, paragraphs)


@pytest.mark.parametrize(
    "oid", ["O24-4", "O24-5", "O24-19", "O24-22", "O31-25", "O31-28", "CSL-43", "GC-111"]
)
def test_no_penalty_where_the_sources_name_none(oid: str) -> None:
    assert service.obligation(oid).penalty is None
    assert service.penalty_for(oid) is None


@pytest.mark.obligation("O24-22", "O24-23", "O31-34")
def test_penalty_for_gives_the_fine_range_in_force() -> None:
    o24_12 = service.penalty_for("O24-12")
    assert o24_12 is not None
    assert (o24_12.id, o24_12.fine_min_yuan, o24_12.fine_max_yuan) == ("O24-22", None, 10000)
    o24_10 = service.penalty_for("O24-10")
    assert o24_10 is not None
    assert (o24_10.id, o24_10.fine_min_yuan, o24_10.fine_max_yuan) == ("O24-23", 10000, 30000)
    o31 = service.penalty_for("O31-20")
    assert o31 is not None
    assert (o31.id, o31.fine_min_yuan, o31.fine_max_yuan) == ("O31-34", 10000, 30000)
    assert o31.fine_parameters == ["fines.o31_34.min_yuan", "fines.o31_34.max_yuan"]
    # before Order 31 took effect there is no fine in force
    from datetime import date

    before = service.penalty_for("O31-20", on=date(2015, 6, 29))
    assert before is not None and before.fine_max_yuan is None


def test_lookup_ignores_case_and_spaces() -> None:
    assert service.obligation(" o31-18.2 ").id == "O31-18.2"


def test_unknown_id_is_not_found_with_a_suggestion() -> None:
    with pytest.raises(PiguardError) as exc:
        service.obligation("O31-18.3")
    err = exc.value
    assert err.code == "not_found" and err.http_status == 404 and err.exit_code == 2
    assert "O31-18.3" in err.message_en and "O31-18.2" in err.message_en
    assert "O31-18.3" in err.message_zh


def test_unknown_id_without_any_close_match() -> None:
    with pytest.raises(PiguardError) as exc:
        service.obligation("hello")
    assert "Did you mean" not in exc.value.message_en


def test_filters_by_source_and_section() -> None:
    o31 = service.obligations(source="O31")
    assert o31 and all(ob.source == "O31" for ob in o31)
    assert [ob.id for ob in o31][:3] == ["O31-6", "O31-7", "O31-9"]  # article order
    f = {ob.id for ob in service.obligations(section="f")}
    assert {"NPC-7", "CRL-29", "CSL-47", "O31-18.2"} <= f
    assert "O24-12" not in f
    both = service.obligations(source="NPC", section="F")
    assert [ob.id for ob in both] == ["NPC-7"]
    # an id listed in several sections appears under each
    assert "O24-9.2" in {ob.id for ob in service.obligations(section="A")}
    assert "O24-9.2" in {ob.id for ob in service.obligations(section="C")}


def test_bad_filters_are_validation_errors() -> None:
    with pytest.raises(PiguardError) as exc:
        service.obligations(source="O99", section="Z")
    assert exc.value.code == "validation_error"
    assert {f.field for f in exc.value.fields} == {"source", "section"}


def test_parameters_for_an_obligation() -> None:
    assert [p.name for p in service.parameters_for("O24-12")] == ["complaint.reply_days"]
    assert [p.name for p in service.parameters_for("O31-27")] == [
        "sms_complaint.feedback_working_days",
        "sms_complaint.reporting_centre_transfer_working_days",
    ]
    assert [p.name for p in service.parameters_for("O31-18.2")] == [
        "sms_consent.max_messages_per_day",
        "sms_consent.max_period_months",
    ]
    assert service.parameters_for("O31-18.1") == []
    with pytest.raises(PiguardError) as exc:
        service.parameters_for("O24-99")
    assert exc.value.code == "not_found"


def test_require_known_checks_ids() -> None:
    assert service.require_known("o24-12", "CSL-43") == ("O24-12", "CSL-43")
    with pytest.raises(PiguardError) as exc:
        service.require_known("O24-12", "O24-13.7")
    assert exc.value.code == "validation_error"
    assert "O24-13.7" in exc.value.fields[0].message


def test_loaded_once() -> None:
    assert catalogue() is catalogue()
    assert service.obligation("O24-12") is service.obligation("O24-12")


def _copy_data(tmp_path: Path) -> Path:
    src = Path(str(data_dir()))
    dst = tmp_path / "data"
    shutil.copytree(src, dst)
    return dst


def test_data_with_an_unknown_key_is_rejected_naming_the_file(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    path = data / "obligations" / "GC.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("title_en:", "titel_en:"), encoding="utf-8")
    with pytest.raises(PiguardError) as exc:
        load_catalogue(data)
    assert exc.value.code == "rules_data_invalid"
    assert "obligations/GC.yaml" in exc.value.message_en and "GC-111" in exc.value.message_en


def test_data_without_article_text_is_rejected(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    path = data / "obligations" / "GC.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"  text_zh: \|-\n    [^\n]*\n", "", text), encoding="utf-8")
    with pytest.raises(PiguardError) as exc:
        load_catalogue(data)
    assert "text" in exc.value.message_en


def test_data_with_an_id_not_matching_its_article_is_rejected(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    path = data / "obligations" / "GC.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("article: 111", "article: 112"), encoding="utf-8"
    )
    with pytest.raises(PiguardError) as exc:
        load_catalogue(data)
    assert "GC-111" in exc.value.message_en


def test_broken_yaml_is_reported_not_raised_raw(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    (data / "penalties.yaml").write_text("O24-22: [unclosed\n", encoding="utf-8")
    with pytest.raises(PiguardError) as exc:
        load_catalogue(data)
    assert exc.value.code == "rules_data_invalid" and "penalties.yaml" in exc.value.message_en

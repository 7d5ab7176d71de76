"""The capability of every obligation (data/capabilities.yaml) against REQUIREMENTS.md and the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from piguard.core.errors import PiguardError
from piguard.regulations.capabilities import capabilities, parse, problems
from piguard.regulations.catalogue import catalogue


def test_every_obligation_has_a_capability_and_every_prefix_is_valid() -> None:
    caps = capabilities()
    assert problems(caps) == []
    assert set(caps.items) == set(catalogue().obligations)
    for cap in caps.items.values():
        assert 1 <= len(cap.parts) <= 4
        assert cap.zh and cap.en
        assert all(p.zh and p.en and p.under for p in cap.parts)


def test_parts_name_only_the_domains_of_the_architecture() -> None:
    # ARCHITECTURE.md's rooms; a part pointing anywhere else is a typo or a wrong room.
    known = {
        "piguard." + p
        for p in (
            "cases",
            "rights",
            "consent",
            "inventory",
            "messaging",
            "audit",
            "identity",
            "discovery",
            "oversight",
            "core",
            "web",
            "regulations",
        )
    }
    for cap in capabilities().items.values():
        for part in cap.parts:
            for u in part.under:
                assert any(u == k or u.startswith(k + ".") for k in known), (cap.id, u)


def test_problems_reports_missing_unknown_ids_bad_prefixes_and_patterns(tmp_path: Path) -> None:
    caps = parse(
        {
            "planned": ["piguard.cases"],
            "capabilities": {
                "O24-12": {
                    "en": "x",
                    "zh": "x",
                    "parts": [
                        {"key": "a", "under": "piguard.cases.complaints", "en": "a", "zh": "a"},
                        {"key": "b", "under": "piguard.nowhere", "en": "b", "zh": "b"},
                        {"key": "c", "under": "Piguard/Cases", "en": "c", "zh": "c"},
                        {"key": "c", "under": "piguard.inventory", "name": "(", "en": "d", "zh": "d"},
                    ],
                },
                "O24-99": {
                    "en": "x",
                    "zh": "x",
                    "parts": [{"key": "a", "under": "piguard.core", "en": "a", "zh": "a"}],
                },
            },
        }
    )
    found = problems(caps)
    assert "O24-13.6: no capability entry" in found
    assert "O24-99: not an obligation of REQUIREMENTS.md" in found
    assert "O24-12/b: 'piguard.nowhere' neither exists nor is planned" in found
    assert "O24-12/c: 'Piguard/Cases' is not a piguard package prefix" in found
    assert any(f.startswith("O24-12/c: bad name pattern") for f in found)
    assert any(f.startswith("O24-12: duplicate part keys") for f in found)
    assert not any(f.startswith("O24-12/a") for f in found)  # planned packages are fine


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"capabilities": {"O24-12": "built"}},
        {"capabilities": {"O24-12": {"en": "x", "zh": "x", "parts": []}}},
        {"capabilities": {"O24-12": {"en": "x", "zh": "x", "parts": [{"key": "a", "en": "a", "zh": "a"}]}}},
        {
            "capabilities": {
                "O24-12": {
                    "en": "x",
                    "zh": "x",
                    "parts": [{"key": "a", "under": "piguard.x", "en": "a", "zh": "a", "extra": 1}],
                }
            }
        },
        {"planned": "piguard.cases", "capabilities": {}},
    ],
)
def test_a_broken_file_is_a_clear_error(raw: object) -> None:
    with pytest.raises(PiguardError) as exc:
        parse(raw)
    assert exc.value.code == "rules_data_invalid"
    assert "capabilities.yaml" in exc.value.message_en

"""piguard's YAML loader: safe, and a key given twice in one mapping is an error naming both lines."""

from __future__ import annotations

import pytest
import yaml

from piguard.core import yamlfiles
from piguard.core.calendar import _DateAsTextLoader
from piguard.regulations.catalogue import _Loader


@pytest.mark.parametrize(
    ("text", "key", "first", "second"),
    [
        ("a: 1\nb: 2\na: 3\n", "a", 1, 3),
        ("top:\n  x: 1\n  y: 2\n  x: 2\n", "x", 2, 4),
        ("- {k: 1, k: 2}\n", "k", 1, 1),  # flow style, one line
        ("1: a\n2: b\n1: c\n", 1, 1, 3),
    ],
)
def test_a_duplicate_key_names_both_lines(text: str, key: object, first: int, second: int) -> None:
    with pytest.raises(yamlfiles.DuplicateKeyError) as exc:
        yamlfiles.load(text)
    assert f"duplicate key {key!r} (first on line {first})" in str(exc.value)
    assert exc.value.problem_mark is not None and exc.value.problem_mark.line + 1 == second
    assert isinstance(exc.value, yaml.YAMLError)  # each caller's YAML-error path reports it


def test_what_yaml_allows_still_loads() -> None:
    assert yamlfiles.load("1: a\n'1': b\n") == {1: "a", "1": "b"}  # different keys
    merged = yamlfiles.load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n")
    assert merged["d"] == {"x": 3, "y": 2}  # a merge key may be overridden
    assert yamlfiles.load("") is None
    with pytest.raises(yaml.YAMLError):
        yamlfiles.load("!!python/object:os.system x\n")  # still the safe loader


def test_the_loaders_with_their_own_options_are_strict_too() -> None:
    for loader in (_DateAsTextLoader, _Loader):
        with pytest.raises(yamlfiles.DuplicateKeyError):
            yaml.load("a: 1\na: 2\n", Loader=loader)
    assert yaml.load("d: 2027-01-01\n", Loader=_DateAsTextLoader) == {"d": "2027-01-01"}

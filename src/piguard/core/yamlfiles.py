"""YAML as piguard reads it: safe (no object construction) and strict about duplicate keys.

PyYAML keeps the last of two equal keys in a mapping without a word, so a second ``systems:`` in
an inventory, a second ``patterns:`` in a review signal or a route listed twice in the access
matrix silently replaced the first: data lost with no error. Every loader here refuses that with
a ``yaml.YAMLError`` that names both lines, so each caller's existing YAML-error path reports it
(file, line) as it reports a syntax error. Merge keys (``<<: *base``) may still be overridden.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

_MERGE = "tag:yaml.org,2002:merge"
_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser where PyYAML has it


class DuplicateKeyError(ConstructorError):
    """Two equal keys in one mapping."""


def _check_unique(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[Any, yaml.Node] = {}
    for key_node, _value in node.value:
        if key_node.tag == _MERGE:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = first.setdefault(key, key_node)
        except TypeError:  # an unhashable key: SafeConstructor reports it itself
            continue
        if seen is not key_node:
            raise DuplicateKeyError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r} (first on line {seen.start_mark.line + 1}); a second "
                "one would replace it",
                key_node.start_mark,
            )


class StrictSafeLoader(_FAST):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml's when present) that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _check_unique(self, node)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class StrictPureLoader(yaml.SafeLoader):
    """The pure-Python safe loader, strict too, for loaders that change its resolvers."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _check_unique(self, node)
        return super().construct_mapping(node, deep=deep)


def load(text: str | bytes) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (a ``yaml.YAMLError`` naming both lines)."""
    return yaml.load(text, Loader=StrictSafeLoader)

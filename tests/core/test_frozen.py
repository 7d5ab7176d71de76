"""``core.frozen.fast_init`` writes the ``__init__`` dataclasses writes: the same parameters,
defaults and factories, and the objects stay frozen."""

from __future__ import annotations

import dataclasses
from dataclasses import InitVar, dataclass, field, make_dataclass
from typing import Any

import pytest

from piguard.core.frozen import fast_init
from piguard.core.reasons import Decision, Outcome, Reason


def _fields() -> list[tuple[str, type, Any]]:
    """The same fields for both classes (each class gets its own ``Field`` objects)."""
    return [
        ("a", int, field()),
        ("b", str, field(default="x")),
        ("c", dict, field(default_factory=dict)),
        ("d", int, field(default=3, init=False)),
        ("e", int, field(default=0, kw_only=True)),
    ]


Plain = make_dataclass("Plain", _fields(), frozen=True, slots=True)
Fast = fast_init(make_dataclass("Fast", _fields(), frozen=True, slots=True))


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, "y"), {}), ((1, "y", {"k": 1}), {"e": 5}), ((), {"a": 2, "c": {}})],
)
def test_the_same_fields_as_the_generated_init(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    assert dataclasses.astuple(Fast(*args, **kwargs)) == dataclasses.astuple(Plain(*args, **kwargs))


def test_objects_stay_frozen_and_replace_works() -> None:
    f = Fast(1)
    assert f.c == {} and f.c is not Fast(1).c  # a new dict from the factory each time
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.a = 2
    assert dataclasses.replace(f, b="z") == Fast(1, "z")
    with pytest.raises(TypeError):
        Fast(1, "x", {}, 4)  # e is keyword-only
    with pytest.raises(TypeError):
        Fast()


def test_refuses_what_it_cannot_write() -> None:
    with pytest.raises(TypeError):

        @fast_init
        @dataclass(frozen=True, slots=True)
        class WithInitVar:
            a: int
            k: InitVar[int] = 0

            def __post_init__(self, k: int) -> None:
                pass

    with pytest.raises(TypeError):

        @fast_init
        @dataclass(slots=True)
        class NotFrozen:
            a: int


def test_the_gateway_value_objects_keep_their_fields() -> None:
    r = Reason("c", ("O1",), "en", "zh")
    assert r.detail == {} and Reason("c", ("O1",), "en", "zh", {"k": 1}).detail == {"k": 1}
    d = Decision(Outcome.ALLOW, (r,))
    assert d.allowed and d.reasons == (r,) and Decision(Outcome.REFUSE).reasons == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.code = "x"  # type: ignore[misc]

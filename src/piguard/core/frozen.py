"""A faster ``__init__`` for frozen, slotted dataclasses made once a message on the gateway's path.

The ``__init__`` that :mod:`dataclasses` writes for a frozen class sets every field through
``object.__setattr__(self, name, value)`` (a name look-up on the type each time): about twice what
setting the slots through their descriptors costs. :func:`fast_init` writes the same ``__init__``
(the same parameters, defaults and factories, ``__post_init__`` called) over the slot descriptors,
so the objects stay frozen (``obj.x = …`` still raises) and :func:`dataclasses.replace` works
unchanged. Classes with ``InitVar`` fields are refused.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING: Any = object()  # a parameter left to its default factory


def fast_init(cls: type[T]) -> type[T]:
    """Class decorator, under ``@dataclass(frozen=True, slots=True)``: see the module docstring."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: fast_init is for frozen dataclasses with slots")
    ns: dict[str, Any] = {"_MISSING": _MISSING}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = f.name
        ns[f"_set_{name}"] = cls.__dict__[name].__set__
        has_default = f.default is not dataclasses.MISSING
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_default:
            ns[f"_dflt_{name}"] = f.default
        if has_factory:
            ns[f"_fact_{name}"] = f.default_factory
        if not f.init:
            if has_default:
                body.append(f"_set_{name}(self, _dflt_{name})")
            elif has_factory:
                body.append(f"_set_{name}(self, _fact_{name}())")
            continue
        if has_default:
            param = f"{name}=_dflt_{name}"
            value = name
        elif has_factory:
            param = f"{name}=_MISSING"
            value = f"_fact_{name}() if {name} is _MISSING else {name}"
        else:
            param = value = name
        (keyword if f.kw_only else positional).append(param)
        body.append(f"_set_{name}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    src = f"def __init__({signature}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
    wanted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    given = [p.split("=")[0] for p in (*positional, *keyword)]
    if given != wanted:  # an InitVar: a parameter that is no field
        raise TypeError(
            f"{cls.__name__}: fast_init handles fields only, not {sorted(set(wanted) - set(given))}"
        )
    exec(src, ns)  # the way dataclasses writes its __init__; the text is made of field names only
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 (mypy refuses assigning a method)
    return cls

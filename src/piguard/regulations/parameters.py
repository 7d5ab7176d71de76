"""Dated regulatory parameters, kept as OpenFisca keeps them: one YAML file per parameter under
``data/parameters/`` (the dotted name is the file's path: ``complaint/reply_days.yaml`` is
``complaint.reply_days``), each with its description, unit, legal reference and the values with the
dates from which they apply.

Callers never write a regulatory number as a literal::

    from piguard.regulations.parameters import value
    deadline = received + timedelta(days=value("complaint.reply_days", on=received))

Loading is cached: the YAML is read once per process.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime
from functools import cache
from importlib.abc import Traversable
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from piguard.core.errors import PiguardError, not_found
from piguard.regulations.catalogue import data_dir, invalid_data, read_yaml
from piguard.regulations.schemas import Parameter, ParameterValue

CHINA = ZoneInfo("Asia/Shanghai")

__all__ = ["CHINA", "all_parameters", "as_date", "in_force", "load_parameters", "parameter", "today", "value"]


def today() -> date:
    """Today's date in China (regulations take effect on Chinese calendar dates)."""
    return datetime.now(CHINA).date()


def as_date(on: date | datetime | None) -> date:
    if on is None:
        return today()
    if isinstance(on, datetime):
        return on.astimezone(CHINA).date() if on.tzinfo is not None else on.date()
    return on


def _walk(node: Traversable, prefix: tuple[str, ...]) -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            found.extend(_walk(child, (*prefix, child.name)))
        elif child.name.endswith((".yaml", ".yml")):
            found.append((".".join((*prefix, child.name.rsplit(".", 1)[0])), child))
    return found


def load_parameters(root: Traversable) -> dict[str, Parameter]:
    """Validate and load every parameter file under ``root`` (a ``parameters/`` directory)."""
    params: dict[str, Parameter] = {}
    for name, node in _walk(root, ()):
        where = f"parameters/{name.replace('.', '/')}.yaml"
        body = read_yaml(node, where)
        if not isinstance(body, dict):
            raise invalid_data(where, "expected a mapping")
        try:
            params[name] = Parameter.model_validate({"name": name, **body})
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            raise invalid_data(
                where, f"{loc}: {first.get('msg', '')}" if loc else str(first.get("msg"))
            ) from None
    return params


@cache
def _packaged() -> dict[str, Parameter]:
    return load_parameters(data_dir() / "parameters")


def all_parameters() -> list[Parameter]:
    """Every parameter, sorted by name."""
    return [p for _, p in sorted(_packaged().items())]


def parameter(name: str) -> Parameter:
    """The parameter with its description, unit, reference and dated values.

    Raises ``not_found`` (naming the closest known name) for an unknown name.
    """
    params = _packaged()
    try:
        return params[name]
    except KeyError:
        err = not_found("Parameter", "参数", name)
        close = difflib.get_close_matches(name, list(params), n=1, cutoff=0.5)
        if close:
            err.message_en += f" Did you mean {close[0]!r}?"
            err.message_zh += f"您是否要找 {close[0]!r}？"
        raise err from None


def in_force(param: Parameter, on: date | datetime | None = None) -> ParameterValue | None:
    """The dated value that applies on ``on`` (China date; today when omitted), or None before the first."""
    day = as_date(on)
    current: ParameterValue | None = None
    for v in param.values:
        if v.effective <= day:
            current = v
        else:
            break
    return current


def value(name: str, on: date | datetime | None = None) -> int:
    """The value of parameter ``name`` in force on ``on`` (a date, or an aware datetime read in China
    time; today in China when omitted).

    Raises ``PiguardError`` ``not_found`` for an unknown name and ``parameter_not_in_force`` for a date
    before the parameter's first effective date.
    """
    param = parameter(name)
    current = in_force(param, on)
    if current is None:
        day = as_date(on)
        first = param.values[0].effective
        raise PiguardError(
            "parameter_not_in_force",
            f"Parameter {name!r} has no value on {day.isoformat()}: it takes effect on {first.isoformat()} "
            f"({param.reference.article_en}).",
            f"参数 {name!r} 在 {day.isoformat()} 尚无取值：自 {first.isoformat()} 起施行（{param.reference.article_zh}）。",
            obligations=(param.reference.id,),
            http_status=404,
            exit_code=2,
        )
    return current.value

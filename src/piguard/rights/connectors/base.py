"""What a connector raises: the target is down (wait and retry) or the mapping is wrong (stop)."""

from __future__ import annotations

from piguard.core.errors import PiguardError


class TargetDown(Exception):
    """The system's database did not answer; the step waits and is retried with backoff."""


class MappingError(PiguardError):
    """The inventory maps to a table or column the system does not have; nothing was changed."""


def mapping_error(system: str, table: str, missing: list[str]) -> MappingError:
    cols = ", ".join(missing)
    return MappingError(
        "rights_mapping_missing_column",
        f"The inventory maps system {system!r} table {table!r} to column(s) {cols} that the database "
        "does not have; nothing was changed. Fix the inventory (piguard inventory import) and run again.",
        f"清单将系统 {system!r} 的表 {table!r} 映射到数据库中不存在的列 {cols}；未做任何更改。"
        "请更正清单后重新执行。",
        obligations=("O24-9.2", "O24-5"),
        http_status=409,
    )


def missing_table(system: str, table: str) -> MappingError:
    return MappingError(
        "rights_mapping_missing_table",
        f"The inventory names table {table!r} in system {system!r}, which the database does not have; "
        "nothing was changed.",
        f"清单中的系统 {system!r} 的表 {table!r} 在数据库中不存在；未做任何更改。",
        obligations=("O24-9.2", "O24-5"),
        http_status=409,
    )

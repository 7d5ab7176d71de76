"""The SQL connector: find, export, update, delete or de-identify one person's rows in a table of an
operator's database, as the inventory maps it.

Configuration (the system's inventory ``connector`` entry)::

    connector: {kind: sql, url_env: PIGUARD_RIGHTS_URL_CRM, deidentify: [orders]}

``url_env`` names an environment variable holding the SQLAlchemy URL (passwords live there, never in
the inventory, the audit log or the logs); ``url`` may be given instead when it holds no password
(a SQLite file, a socket with peer authentication). ``deidentify`` lists tables whose rows are kept
with their personal fields cleared instead of deleted (rows other records depend on).

Idempotency: each changing step writes its effect and a mark (``piguard_rights_done``, keyed by the
step) in **one transaction of the target**; a step run again after a crash finds its mark and does
nothing. Exports are reads (run again, same answer).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from piguard.core.errors import PiguardError
from piguard.rights.connectors.base import TargetDown, mapping_error, missing_table

MARKS = MetaData()
DONE = Table(
    "piguard_rights_done",
    MARKS,
    Column("step_key", String(64), primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("done_at", String(40), nullable=False),
)

#: subject kinds (``consent.subjects``) -> the ``subject_keys`` names the inventory uses for them
KEY_NAMES = {
    "phone": ("phone", "mobile", "msisdn"),
    "id_card": ("id_card", "id_no"),
    "account": ("account", "user_id", "user"),
    "email": ("email",),
}

_engines: dict[str, Engine] = {}


def _config_error(system: str, en: str, zh: str) -> PiguardError:
    return PiguardError(
        "rights_connector_config",
        f"System {system!r}: {en}",
        f"系统 {system!r}：{zh}",
        obligations=("O24-9.2",),
        http_status=409,
    )


def connector_url(system: str, config: dict[str, Any]) -> str:
    """The URL from ``url_env`` (preferred) or ``url``; a password written in the inventory is refused."""
    env = config.get("url_env")
    if env:
        url = os.environ.get(str(env), "")
        if not url:
            raise _config_error(system, f"environment variable {env} is not set", f"环境变量 {env} 未设置")
        return url
    url = str(config.get("url") or "")
    if not url:
        raise _config_error(
            system, "the sql connector needs url_env or url", "sql 连接器须配置 url_env 或 url"
        )
    if make_url(url).password:
        raise _config_error(
            system,
            "the inventory must not hold a password: put the URL in an environment variable named by url_env",
            "清单中不得含有密码：请将 URL 放入 url_env 指定的环境变量",
        )
    return url


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _engine(url: str) -> Engine:
    eng = _engines.get(url)
    if eng is None:
        kwargs: dict[str, Any] = {"hide_parameters": True}
        if make_url(url).get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = {"connect_timeout": 5}
        eng = create_engine(url, **kwargs)
        _engines[url] = eng
    return eng


def dispose_all() -> None:
    for eng in _engines.values():
        eng.dispose()
    _engines.clear()


class SqlConnector:
    def __init__(self, system: str, config: dict[str, Any]) -> None:
        self.system = system
        self.config = config
        self.url = connector_url(system, config)
        self.schema = config.get("schema")

    def _reflect(self, conn: Any, table: str, columns: list[str]) -> Table:
        insp = inspect(conn)
        if not insp.has_table(table, schema=self.schema):
            raise missing_table(self.system, table)
        have = {c["name"] for c in insp.get_columns(table, schema=self.schema)}
        missing = sorted({c for c in columns if c not in have})
        if missing:
            raise mapping_error(self.system, table, missing)
        return Table(table, MetaData(), autoload_with=conn, schema=self.schema)

    def run(
        self,
        *,
        step_key: str,
        table: str,
        action: str,
        keys: dict[str, list[str]],
        fields: list[str],
        changes: dict[str, Any] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Do one step; returns (rows, exported rows). ``keys``: column -> values identifying the person."""
        try:
            eng = _engine(self.url)
            if action != "export":
                MARKS.create_all(eng, checkfirst=True)
            with eng.begin() as conn:
                return self._run(conn, step_key, table, action, keys, fields, changes or {})
        except PiguardError:
            raise
        except OperationalError as exc:
            # never the exception text: it may carry the URL or statement parameters
            raise TargetDown(type(exc.orig).__name__ if exc.orig else "OperationalError") from None
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise TargetDown("connection lost") from None
            raise

    def _run(
        self,
        conn: Any,
        step_key: str,
        table: str,
        action: str,
        keys: dict[str, list[str]],
        fields: list[str],
        changes: dict[str, Any],
    ) -> tuple[int, list[dict[str, Any]]]:
        if action != "export":
            mark = conn.execute(select(DONE.c.rows).where(DONE.c.step_key == step_key)).first()
            if mark is not None:
                return int(mark[0]), []
        wanted = sorted(set(keys) | set(fields) | set(changes))
        t = self._reflect(conn, table, wanted)
        where = or_(*[t.c[col].in_(vals) for col, vals in keys.items()])
        rows = 0
        out: list[dict[str, Any]] = []
        if action == "export":
            cols = [t.c[c] for c in sorted(set(keys) | set(fields))]
            for r in conn.execute(select(*cols).where(where)).mappings():
                out.append({k: _plain(v) for k, v in r.items()})
            return len(out), out
        if action == "update":
            rows = conn.execute(update(t).where(where).values(**changes)).rowcount
        elif action == "delete":
            rows = conn.execute(delete(t).where(where)).rowcount
        elif action == "deidentify":
            values: dict[str, Any] = {}
            for c in sorted(set(fields) | set(keys)):
                col = t.c[c]
                if col.primary_key:
                    continue
                values[c] = None if col.nullable else ("0" if _is_text(col) else 0)
            rows = conn.execute(update(t).where(where).values(**values)).rowcount if values else 0
        else:
            raise ValueError(action)
        conn.execute(
            DONE.insert().values(step_key=step_key, rows=rows, done_at=datetime.now(UTC).isoformat())
        )
        return rows, out


def _is_text(col: Any) -> bool:
    try:
        return col.type.python_type is str
    except NotImplementedError:
        return True


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float | bool):
        return v
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)

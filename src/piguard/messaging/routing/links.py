"""The outbound links per carrier, as a YAML file the operator keeps (``PIGUARD_SMS_LINKS_FILE`` or
``piguard sms smpp-serve --links FILE``)::

    links:
      - name: cmcc-bj                 # unique; receipts are matched per link
        carriers: [china_mobile]      # routes it carries; "other": numbers with no carrier
        protocol: smpp                # the protocols piguard has a client for
        host: 10.1.1.1
        port: 2775
        system_id: piguard
        password_env: PIGUARD_LINK_CMCC_PASSWORD   # the password is read from this variable
        window: 16                    # submit_sm outstanding at once (what the centre grants)

A carrier named by no link has its messages held in the outbox (``piguard sms links`` shows the
queue) until a link for it is configured: they are never sent over another carrier's link.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from piguard.core.errors import FieldError, PiguardError
from piguard.messaging.routing.service import carriers

OTHER = "other"
#: link protocols piguard can send over (CMPP, SMGP and SGIP clients are not built yet)
CLIENT_PROTOCOLS = ("smpp",)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,31}$")


@dataclass(frozen=True, slots=True)
class LinkConfig:
    name: str
    carriers: tuple[str, ...]
    protocol: str
    host: str
    port: int
    system_id: str
    password: str
    window: int = 10

    @property
    def routes(self) -> tuple[str | None, ...]:
        """The outbox routes it claims (``other`` is the rows with no carrier)."""
        return tuple(None if c == OTHER else c for c in self.carriers)


def _invalid(path: Path, fields: list[FieldError]) -> PiguardError:
    return PiguardError(
        "links_file_invalid",
        f"The links file {path.name} is not valid.",
        f"链路配置文件 {path.name} 无效。",
        fields=fields,
        http_status=422,
        exit_code=2,
    )


def load_links(path: Path, env: dict[str, str] | None = None) -> list[LinkConfig]:
    """Read and check a links file; every problem is named (``links[2].port: …``), none ignored."""
    env = dict(os.environ) if env is None else env
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _invalid(path, [FieldError("file", f"cannot be read: {exc.strerror} / 无法读取")]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise _invalid(path, [FieldError("file", f"not YAML{line} / 不是有效的 YAML")]) from None
    items = raw.get("links") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise _invalid(path, [FieldError("links", "a non-empty list / 须为非空列表")])
    known = {*carriers(), OTHER}
    errors: list[FieldError] = []
    out: list[LinkConfig] = []
    names: set[str] = set()
    taken: dict[str, str] = {}
    for i, item in enumerate(items):
        at = f"links[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(at, "a mapping / 须为映射"))
            continue
        before = len(errors)
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append(FieldError(f"{at}.name", "1-32 of a-z 0-9 _ . - / 名称格式无效"))
        elif name in names:
            errors.append(FieldError(f"{at}.name", "used twice / 名称重复"))
        else:
            names.add(name)
        cs = item.get("carriers")
        if not isinstance(cs, list) or not cs or not all(isinstance(c, str) for c in cs):
            errors.append(FieldError(f"{at}.carriers", "a non-empty list / 须为非空列表"))
            cs = []
        for c in cs:
            if c not in known:
                errors.append(
                    FieldError(f"{at}.carriers", f"unknown carrier {c!r}; known: {', '.join(sorted(known))}")
                )
            elif c in taken:
                errors.append(
                    FieldError(f"{at}.carriers", f"{c} is carried by {taken[c]} already / 已由其他链路承载")
                )
        protocol = item.get("protocol", "smpp")
        if protocol not in CLIENT_PROTOCOLS:
            errors.append(
                FieldError(
                    f"{at}.protocol", f"one of {', '.join(CLIENT_PROTOCOLS)} (no {protocol} client yet)"
                )
            )
        host, port = item.get("host"), item.get("port", 2775)
        if not isinstance(host, str) or not host.strip():
            errors.append(FieldError(f"{at}.host", "required / 必填"))
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            errors.append(FieldError(f"{at}.port", "1 to 65535 / 须在 1 至 65535 之间"))
        system_id = item.get("system_id")
        if not isinstance(system_id, str) or not 1 <= len(system_id) <= 15:
            errors.append(FieldError(f"{at}.system_id", "1 to 15 characters / 1 至 15 个字符"))
        password_env = item.get("password_env")
        password = env.get(password_env, "") if isinstance(password_env, str) else ""
        if not isinstance(password_env, str) or not password:
            errors.append(
                FieldError(f"{at}.password_env", "names a set environment variable / 须指向已设置的环境变量")
            )
        window = item.get("window", 10)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 1000:
            errors.append(FieldError(f"{at}.window", "1 to 1000 / 须在 1 至 1000 之间"))
        unknown = set(item) - {
            "name",
            "carriers",
            "protocol",
            "host",
            "port",
            "system_id",
            "password_env",
            "window",
        }
        if unknown:
            errors.append(FieldError(at, f"unknown keys: {', '.join(sorted(map(str, unknown)))}"))
        if len(errors) > before:
            continue
        assert isinstance(name, str) and isinstance(host, str) and isinstance(system_id, str)
        for c in cs:
            taken[c] = name
        out.append(LinkConfig(name, tuple(cs), protocol, host.strip(), port, system_id, password, window))
    if errors:
        raise _invalid(path, errors)
    return out

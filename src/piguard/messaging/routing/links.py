"""The outbound links per carrier, as a YAML file the operator keeps (``PIGUARD_SMS_LINKS_FILE`` or
``piguard sms smpp-serve --links FILE``)::

    links:
      - name: cmcc-bj                 # unique; receipts are matched per link
        carriers: [china_mobile]      # routes it carries; "other": numbers with no carrier
        protocol: cmpp3               # smpp (default), cmpp2, cmpp3, smgp or sgip
        host: 10.1.1.1
        port: 7890                    # default: the protocol's usual port (2775/7890/8890/8801)
        system_id: 901234             # SMPP system_id; CMPP Source_Addr; SMGP ClientID; SGIP Login Name
        password_env: PIGUARD_LINK_CMCC_PASSWORD   # the password is read from this variable
        window: 16                    # submits outstanding at once (what the centre grants)
        max_rate: 200                 # submits a second at most (0 or absent: no limit)
        service_id: MXX0010001        # CMPP Service_Id / SMGP ServiceID / SGIP ServiceType
      - name: cucc
        carriers: [china_unicom]
        protocol: sgip
        host: 10.2.2.2
        system_id: piguard
        password_env: PIGUARD_LINK_CUCC_PASSWORD
        corp_id: "12345"              # SGIP only: the SP's CorpId and node id
        node_id: 3010012345
        listen_port: 8802             # SGIP only: the SMG connects here for Deliver and Report

A carrier named by no link has its messages held in the outbox (``piguard sms links`` shows the
queue) until a link for it is configured: they are never sent over another carrier's link.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from piguard.core import yamlfiles
from piguard.core.errors import FieldError, PiguardError
from piguard.messaging.routing.service import carriers

OTHER = "other"
#: link protocols piguard can send over, with each one's usual port and the width of its login
CLIENT_PROTOCOLS = ("smpp", "cmpp2", "cmpp3", "smgp", "sgip")
DEFAULT_PORTS = {"smpp": 2775, "cmpp2": 7890, "cmpp3": 7890, "smgp": 8890, "sgip": 8801}
LOGIN_WIDTH = {"smpp": 15, "cmpp2": 6, "cmpp3": 6, "smgp": 8, "sgip": 16}
#: the keys only an SGIP link has (its SMG's own connection to piguard, its CorpId and node id)
SGIP_KEYS = ("corp_id", "node_id", "listen_host", "listen_port")
MAX_RATE = 100_000
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
    #: submits a second at most (0: no limit)
    max_rate: int = 0
    service_id: str = ""
    corp_id: str = ""
    node_id: int = 0
    listen_host: str = "0.0.0.0"
    listen_port: int = 0

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
        raw: Any = yamlfiles.load(path.read_text(encoding="utf-8"))
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
                FieldError(f"{at}.protocol", f"one of {', '.join(CLIENT_PROTOCOLS)} / 协议须为其中之一")
            )
            protocol = "smpp"
        host, port = item.get("host"), item.get("port", DEFAULT_PORTS[protocol])
        if not isinstance(host, str) or not host.strip():
            errors.append(FieldError(f"{at}.host", "required / 必填"))
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            errors.append(FieldError(f"{at}.port", "1 to 65535 / 须在 1 至 65535 之间"))
        system_id, width = item.get("system_id"), LOGIN_WIDTH[protocol]
        if not isinstance(system_id, str) or not 1 <= len(system_id) <= width or not system_id.isascii():
            errors.append(
                FieldError(
                    f"{at}.system_id", f"1 to {width} ASCII characters for {protocol} / 1 至 {width} 个字符"
                )
            )
        password_env = item.get("password_env")
        password = env.get(password_env, "") if isinstance(password_env, str) else ""
        if not isinstance(password_env, str) or not password:
            errors.append(
                FieldError(f"{at}.password_env", "names a set environment variable / 须指向已设置的环境变量")
            )
        window = item.get("window", 10)
        if not _int_in(window, 1, 1000):
            errors.append(FieldError(f"{at}.window", "1 to 1000 / 须在 1 至 1000 之间"))
        max_rate = item.get("max_rate", 0)
        if not _int_in(max_rate, 0, MAX_RATE):
            errors.append(
                FieldError(f"{at}.max_rate", f"messages a second, 0 to {MAX_RATE} (0: no limit) / 每秒条数")
            )
        service_id = item.get("service_id", "")
        if not isinstance(service_id, str) or len(service_id) > 10 or not service_id.isascii():
            errors.append(FieldError(f"{at}.service_id", "at most 10 ASCII characters / 至多 10 个字符"))
        sgip = _sgip_keys(item, at, protocol, errors)
        unknown = set(item) - {
            "name", "carriers", "protocol", "host", "port", "system_id", "password_env", "window",
            "max_rate", "service_id", *SGIP_KEYS,
        }  # fmt: skip
        if unknown:
            errors.append(FieldError(at, f"unknown keys: {', '.join(sorted(map(str, unknown)))}"))
        if len(errors) > before:
            continue
        assert isinstance(name, str) and isinstance(host, str) and isinstance(system_id, str)
        for c in cs:
            taken[c] = name
        link = LinkConfig(name, tuple(cs), protocol, host.strip(), port, system_id, password, window)
        out.append(replace(link, max_rate=max_rate, service_id=service_id, **sgip))
    if errors:
        raise _invalid(path, errors)
    return out


def _int_in(v: object, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _sgip_keys(item: dict[str, Any], at: str, protocol: str, errors: list[FieldError]) -> dict[str, Any]:
    """An SGIP link's CorpId, node id and listening address (required: the SMG's Deliver and Report
    come on its own connection); on another protocol's link these keys are an error."""
    given = [k for k in SGIP_KEYS if k in item]
    if protocol != "sgip":
        for k in given:
            errors.append(FieldError(f"{at}.{k}", "only for protocol sgip / 仅适用于 SGIP 链路"))
        return {}
    corp = str(item.get("corp_id", ""))
    node, port = item.get("node_id", 0), item.get("listen_port")
    host = item.get("listen_host", "0.0.0.0")
    if not (corp.isdigit() and len(corp) == 5):
        errors.append(FieldError(f"{at}.corp_id", "the SP's 5-digit CorpId / 5 位企业代码"))
    if not _int_in(node, 0, 0xFFFFFFFF):
        errors.append(FieldError(f"{at}.node_id", "0 to 4294967295 / 节点编号无效"))
    if not isinstance(host, str) or not host.strip():
        errors.append(FieldError(f"{at}.listen_host", "an address to listen on / 须为监听地址"))
    if not _int_in(port, 0, 65535):
        errors.append(
            FieldError(
                f"{at}.listen_port", "required: 0 to 65535, where the SMG connects / 必填，SMG 连接的端口"
            )
        )
    return {"corp_id": corp, "node_id": node, "listen_host": str(host).strip(), "listen_port": port}

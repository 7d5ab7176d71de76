"""Which carrier a number goes to: the ported-number table first (a ported number follows its new
carrier), else the segment table (``data/segments.yaml``, dated, with its source); virtual
operators' segments go over their host network. Outbox rows carry the carrier as their ``route``,
and each outbound link claims only its carriers' rows (``records.claim_outbox(routes=…)``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core import addresses, crypto, yamlfiles
from piguard.core.db import in_values
from piguard.core.errors import FieldError, PiguardError
from piguard.identity.principal import Principal
from piguard.messaging.registry.service import actor_of
from piguard.messaging.routing.models import PortedNumber
from piguard.regulations.markers import carries

#: rows of one ported-number import (a whole national list is imported in several files)
MAX_IMPORT = 1_000_000


@dataclass(frozen=True, slots=True)
class SegmentTable:
    source: str
    valid_from: date
    carriers: dict[str, dict[str, str]]
    #: national-number prefix -> (carrier, is a virtual operator's segment)
    prefixes: dict[str, tuple[str, bool]]


@cache
def segments() -> SegmentTable:
    raw = yamlfiles.load(
        resources.files("piguard.messaging.routing").joinpath("data/segments.yaml").read_text("utf-8")
    )
    prefixes: dict[str, tuple[str, bool]] = {}
    for carrier, body in raw["segments"].items():
        for p in body.get("prefixes") or ():
            prefixes[str(p)] = (carrier, False)
        for p in body.get("mvno") or ():
            prefixes[str(p)] = (carrier, True)
    return SegmentTable(
        source=str(raw["source"]),
        valid_from=date.fromisoformat(str(raw["valid_from"])),
        carriers=dict(raw["carriers"]),
        prefixes=prefixes,
    )


def carriers() -> tuple[str, ...]:
    return tuple(segments().carriers)


def _national(address: str) -> str | None:
    """The 11-digit national mobile number of a normalised address, or None (e-mail, abroad)."""
    if address.startswith("+86") and len(address) == 14 and address[3:].isdigit():
        return address[3:]
    return None


def segment_of(address: str) -> tuple[str, str, bool] | None:
    """``(carrier, prefix, mvno)`` by the number's segment (longest prefix), or None."""
    national = _national(address)
    if national is None:
        return None
    table = segments().prefixes
    for n in (4, 3):
        hit = table.get(national[:n])
        if hit is not None:
            return hit[0], national[:n], hit[1]
    return None


@dataclass(frozen=True, slots=True)
class Route:
    """Where a number goes and why (``how``: ``ported``, ``segment`` or ``none``)."""

    carrier: str | None
    how: str
    prefix: str | None = None
    mvno: bool = False

    def to_dict(self) -> dict[str, Any]:
        names = segments().carriers.get(self.carrier or "", {})
        return {
            "carrier": self.carrier,
            "carrier_name": names or None,
            "how": self.how,
            "segment": self.prefix,
            "mvno": self.mvno,
            "segment_source": segments().source,
            "segment_valid_from": segments().valid_from.isoformat(),
        }


def route_of(session: Session, address: str) -> Route:
    """The route of one normalised address (``core.addresses.normalize_address``)."""
    ported = session.scalar(
        select(PortedNumber.carrier).where(PortedNumber.number_hash == crypto.address_hash(address))
    )
    seg = segment_of(address)
    if ported is not None:
        return Route(ported, "ported", seg[1] if seg else None)
    if seg is not None:
        return Route(seg[0], "segment", seg[1], seg[2])
    return Route(None, "none")


def routes_for(session: Session, rows: Sequence[tuple[str, str]]) -> list[str | None]:
    """The carrier of each ``(address, address_hash)``, one query for the batch's ported numbers."""
    hashes = {h for a, h in rows if _national(a) is not None}
    ported: dict[str, str] = {}
    if hashes:
        # (a Result has keys(): dict(result) would take it for a mapping)
        # the hashes bound as one parameter (``core.db.in_values``: the statement compiles once
        # whatever their count; an expanding IN renders a placeholder per hash every batch)
        ported = {
            h: c
            for h, c in session.execute(
                select(PortedNumber.number_hash, PortedNumber.carrier).where(
                    in_values(session, PortedNumber.number_hash, sorted(hashes))
                )
            )
        }
    out: list[str | None] = []
    for address, h in rows:
        if h in ported:
            out.append(ported[h])
            continue
        seg = segment_of(address)
        out.append(seg[0] if seg else None)
    return out


# ------------------------------------------------------------------------------------ ported numbers


def _import_error(errors: list[FieldError], total: int) -> PiguardError:
    return PiguardError(
        "ported_import_invalid",
        f"The ported-number file has {total} bad line(s); nothing was imported.",
        f"携号转网文件有 {total} 行无效，未导入任何数据。",
        fields=errors[:20],
        http_status=422,
        exit_code=2,
    )


@carries("O31-10")
def import_ported(
    session: Session, text: str, *, replace: bool = False, principal: Principal | None = None
) -> dict[str, int]:
    """Import ``number,carrier[,ported_on]`` lines (CSV, a header line allowed, ``#`` comments):
    all or nothing; a bad line is named with what is wrong and nothing is written. ``replace``: the
    table becomes exactly this file (a full list from the number portability centre)."""
    known = set(carriers())
    errors: list[FieldError] = []
    bad = 0
    rows: dict[str, tuple[str, date | None]] = {}
    reader = csv.reader(io.StringIO(text))
    for lineno, fields in enumerate(reader, start=1):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if lineno == 1 and fields[0].strip().lower() in ("number", "msisdn", "号码"):
            continue
        problem = None
        number = fields[0].strip()
        carrier = fields[1].strip() if len(fields) > 1 else ""
        ported_on: date | None = None
        try:
            address = addresses.normalize_address("sms", number, "number")
        except PiguardError:
            address = ""
        if _national(address) is None:
            problem = "not a mainland mobile number / 不是大陆手机号码"
        elif carrier not in known:
            problem = f"carrier must be one of {', '.join(sorted(known))} / 运营商未知"
        elif len(fields) > 2 and fields[2].strip():
            try:
                ported_on = date.fromisoformat(fields[2].strip())
            except ValueError:
                problem = "ported_on must be YYYY-MM-DD / 日期格式须为 YYYY-MM-DD"
        if problem is not None:
            bad += 1
            errors.append(FieldError(f"line {lineno}", problem))  # never the number itself
            continue
        rows[crypto.address_hash(address)] = (carrier, ported_on)
        if len(rows) > MAX_IMPORT:
            raise _import_error([FieldError("file", f"more than {MAX_IMPORT} numbers / 号码过多")], 1)
    if bad:
        raise _import_error(errors, bad)
    if replace:
        session.execute(delete(PortedNumber))
        existing: dict[str, PortedNumber] = {}
    else:
        existing = {
            p.number_hash: p
            for chunk in _chunks(list(rows), 900)
            for p in session.scalars(select(PortedNumber).where(PortedNumber.number_hash.in_(chunk)))
        }
    added = changed = 0
    for h, (carrier, ported_on) in rows.items():
        row = existing.get(h)
        if row is None:
            session.add(PortedNumber(number_hash=h, carrier=carrier, ported_on=ported_on))
            added += 1
        elif row.carrier != carrier or row.ported_on != ported_on:
            row.carrier, row.ported_on = carrier, ported_on
            changed += 1
    session.flush()
    out = {"numbers": len(rows), "added": added, "changed": changed, "replaced": int(replace)}
    record(
        session,
        action="sms.routing.ported_imported",
        actor=actor_of(principal),
        obligations=("O31-10",),
        detail=out,
    )
    return out


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def queue_by_route(session: Session) -> dict[str | None, dict[str, int]]:
    """Outbox rows waiting per carrier route (``queued`` and ``sending``): a link that is down, or a
    carrier no link carries, shows here as a queue that does not shrink."""
    from sqlalchemy import func

    from piguard.messaging.models import OutboxMessage

    out: dict[str | None, dict[str, int]] = {}
    for route, status, n in session.execute(
        select(OutboxMessage.route, OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(("queued", "sending")))
        .group_by(OutboxMessage.route, OutboxMessage.status)
    ):
        out.setdefault(route, {"queued": 0, "sending": 0})[status] = int(n)
    return out


#: the carriers of a single upstream link (no links file): it takes every message
ALL_ROUTES = "*"
#: a link whose process has not reported for this long is shown as not reporting (stale)
STALE_AFTER_SECONDS = 60


def report_link(
    session: Session,
    *,
    name: str,
    carriers: Sequence[str],
    protocol: str,
    address: str,
    bound: bool,
    sent_total: int,
    rate_per_s: float,
    now: datetime,
    window: int | None = None,
    max_rate: int | None = None,
) -> None:
    """The running process's word on one of its links (upserted; one row a link), with the window
    and ``max_rate`` it runs the link with (0: no limit)."""
    from piguard.messaging.routing.models import LinkStatus

    row = session.get(LinkStatus, name)
    if row is None:
        row = LinkStatus(name=name, since=now)
        session.add(row)
    elif row.bound != bound:
        row.since = now
    row.carriers, row.protocol, row.address, row.bound = list(carriers), protocol, address[:300], bound
    row.sent_total, row.rate_per_s, row.updated_at = sent_total, rate_per_s, now
    row.window, row.max_rate = window, max_rate


def links_overview(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every reported link with its state and the queue of its carriers, then each carrier with
    messages waiting that no reported link carries (for ``sms links`` and the console)."""
    from piguard.messaging.routing.models import LinkStatus

    queues = queue_by_route(session)
    out: list[dict[str, Any]] = []
    carried: set[str | None] = set()
    every = False
    for row in session.scalars(select(LinkStatus).order_by(LinkStatus.name)):
        if list(row.carriers or ()) == [ALL_ROUTES]:  # a single upstream takes every message
            routes: list[str | None] = list(queues)
            every = True
        else:
            routes = [None if c == "other" else c for c in row.carriers or ()]
        carried.update(routes)
        stale = (now - row.updated_at).total_seconds() > STALE_AFTER_SECONDS
        out.append(
            {
                "link": row.name,
                "protocol": row.protocol,
                "address": row.address,
                "carriers": list(row.carriers or ()),
                "state": "not_reporting" if stale else ("bound" if row.bound else "down"),
                "since": row.since,
                "reported_at": row.updated_at,
                "sent_total": row.sent_total,
                "rate_per_s": round(row.rate_per_s, 1),
                "window": row.window,
                "max_rate": row.max_rate,
                "queued": sum(queues.get(r, {}).get("queued", 0) for r in routes),
                "sending": sum(queues.get(r, {}).get("sending", 0) for r in routes),
            }
        )
    for route, q in sorted(queues.items(), key=lambda kv: kv[0] or "~"):
        if route not in carried and not every:
            out.append({"link": None, "carriers": [route or "other"], "state": "no_link", **q})
    return out

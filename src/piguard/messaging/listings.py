"""The paged lists the SMS console shows: registry, consent requests, opt-outs, early-warning alerts.

Queries only, no rules: the console's views call these and render what they return, so no view
holds a query of its own (issue 10). Pages are bounded: ``page_of`` caps both the page size and
the page number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.messaging.models import ConsentRequest, ContentProvider, Port, Signature, SubscriptionEvent
from piguard.messaging.monitor.models import MonitorAlert
from piguard.messaging.monitor.service import page_of

#: Ports shown per page of content providers; the registry page is an overview, not an export.
_PORTS_PER_PAGE = 2000


def provider_choices(session: Session, limit: int = 200) -> list[tuple[str, str]]:
    """``(code, name)`` of content providers, for the console's filter menus."""
    stmt = select(ContentProvider.code, ContentProvider.name).order_by(ContentProvider.code).limit(limit)
    return [(code, name) for code, name in session.execute(stmt)]


@dataclass
class RegistryPage:
    providers: list[ContentProvider]
    has_next: bool
    signatures: dict[int, list[Signature]] = field(default_factory=dict)
    ports: dict[int, list[Port]] = field(default_factory=dict)


def registry_page(session: Session, needle: str, page: int, per_page: int) -> RegistryPage:
    """Content providers (suspended first) matching ``needle`` in code or name, with their
    signatures and ports (O31-12, O31-13)."""
    stmt = select(ContentProvider).order_by(ContentProvider.suspended.desc(), ContentProvider.code)
    if needle:
        stmt = stmt.where(
            ContentProvider.code.like(f"%{needle.lower()}%") | ContentProvider.name.like(f"%{needle}%")
        )
    cps, more = page_of(session, stmt, page, per_page)
    out = RegistryPage(cps, more)
    ids = [cp.id for cp in cps]
    if ids:
        for s in session.scalars(
            select(Signature).where(Signature.content_provider_id.in_(ids)).order_by(Signature.id)
        ):
            out.signatures.setdefault(s.content_provider_id, []).append(s)
        ports = select(Port).where(Port.content_provider_id.in_(ids)).order_by(Port.id).limit(_PORTS_PER_PAGE)
        for p in session.scalars(ports):
            out.ports.setdefault(p.content_provider_id, []).append(p)
    return out


def consent_requests_page(
    session: Session, *, status: str, content_provider_id: int | None, page: int, per_page: int
) -> tuple[list[ConsentRequest], bool]:
    """Consent requests sent to recipients (O31-18.2), newest first."""
    stmt = select(ConsentRequest).order_by(ConsentRequest.sent_at.desc(), ConsentRequest.id.desc())
    if status:
        stmt = stmt.where(ConsentRequest.status == status)
    if content_provider_id is not None:
        stmt = stmt.where(ConsentRequest.content_provider_id == content_provider_id)
    return page_of(session, stmt, page, per_page)


def optouts_page(
    session: Session, *, content_provider_id: int | None, page: int, per_page: int
) -> tuple[list[SubscriptionEvent], bool]:
    """Opt-outs (O31-20), newest first."""
    stmt = (
        select(SubscriptionEvent)
        .where(SubscriptionEvent.event == "unsubscribed")
        .order_by(SubscriptionEvent.at.desc(), SubscriptionEvent.id.desc())
    )
    if content_provider_id is not None:
        stmt = stmt.where(SubscriptionEvent.content_provider_id == content_provider_id)
    return page_of(session, stmt, page, per_page)


def alerts_page(
    session: Session, *, state: str, kind: str, page: int, per_page: int
) -> tuple[list[MonitorAlert], bool]:
    """Early-warning alerts (O31-22), newest first; closed ones only when asked for."""
    stmt = select(MonitorAlert).order_by(MonitorAlert.raised_at.desc(), MonitorAlert.id.desc())
    stmt = stmt.where(MonitorAlert.state == state) if state else stmt.where(MonitorAlert.state != "closed")
    if kind:
        stmt = stmt.where(MonitorAlert.kind == kind)
    return page_of(session, stmt, page, per_page)

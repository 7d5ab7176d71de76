"""The status-report queue shared by the CMPP, SMGP and SGIP servers (O31-11): a message a content
provider asked a report for, and piguard allowed, is kept with the ids it was given; once its record
reaches a final delivery status the gateway reports it to a connected session of that login and
marks it sent when the content provider acknowledges. CMPP keeps its rows in ``msg_cmpp_messages``,
SMGP and SGIP in ``msg_ismg_messages`` (by ``protocol``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from piguard.core import crypto
from piguard.core.calendar import SHANGHAI
from piguard.core.db import unit_of_work, utcnow
from piguard.messaging.ismg.models import IsmgMessage
from piguard.messaging.models import MessageRecord
from piguard.messaging.smpp.models import SmppUpstreamPart

#: record status -> report Stat (CMPP 7.4.5.1 / SMGP 3.0 report text: DELIVRD, UNDELIV, ...)
STAT = {"delivered": "DELIVRD", "failed": "UNDELIV"}


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    login: str
    msg_ids: tuple[str, ...]
    src_id: str
    dest: str
    stat: str
    submit_time: str
    done_time: str
    failures_only: bool = False
    #: the SMS centre's or carrier ISMG's error code of a failure (3 characters, "" when none came)
    error: str = ""


def yymmddhhmm(when: datetime | None) -> str:
    return (when or utcnow()).astimezone(SHANGHAI).strftime("%y%m%d%H%M")


def report_row(
    protocol: str,
    login: str,
    record_ref: str,
    msg_ids: list[str],
    src_id: str,
    dest: str,
    *,
    failures_only: bool = False,
) -> IsmgMessage:
    """An allowed message whose content provider asked for a status report (SMGP, SGIP): the row
    kept for it (the servers write the rows of the messages accepted at once together:
    ``BaseServer.keep_async``)."""
    return IsmgMessage(
        protocol=protocol,
        record_ref=record_ref,
        login=login,
        msg_ids=msg_ids,
        src_id=src_id[:21],
        dest_enc=crypto.encrypt(dest),
        submitted_at=utcnow(),
        failures_only=failures_only,
    )


def due_reports(model: Any, login_col: Any, logins: list[str], limit: int, *filters: Any) -> list[Due]:
    """Rows of ``model`` (``msg_cmpp_messages`` or ``msg_ismg_messages`` with a protocol filter)
    whose report is not yet acknowledged and whose record is delivered or failed."""
    where = (
        model.receipt_sent.is_(False),
        login_col.in_(logins),
        MessageRecord.direction == "out",
        MessageRecord.status.in_(tuple(STAT)),
        *filters,
    )
    with unit_of_work() as session:
        rows = session.execute(
            select(model, login_col, MessageRecord.status, MessageRecord.status_at)
            .join(MessageRecord, MessageRecord.ref == model.record_ref)
            .where(*where)
            .order_by(model.id)
            .limit(limit)
        ).all()
        errors = centre_errors(session, [m.record_ref for m, _l, status, _a in rows if status == "failed"])
        return [
            Due(
                m.id,
                login,
                tuple(m.msg_ids),
                m.src_id,
                crypto.decrypt(m.dest_enc, where=f"{model.__tablename__}.dest_enc"),
                STAT[status],
                yymmddhhmm(m.submitted_at),
                yymmddhhmm(status_at),
                bool(getattr(m, "failures_only", False)),
                errors.get(m.record_ref, ""),
            )
            for m, login, status, status_at in rows
        ]


def centre_errors(session: Session, refs: list[str]) -> dict[str, str]:
    """The error code the upstream link's centre gave a failed part of each message (its receipt or
    status report, ``msg_smpp_upstream_parts``), when it gave one other than 000."""
    if not refs:
        return {}
    out: dict[str, str] = {}
    for ref, error in session.execute(
        select(SmppUpstreamPart.record_ref, SmppUpstreamPart.error)
        .where(SmppUpstreamPart.record_ref.in_(refs), SmppUpstreamPart.error.not_in(("", "000")))
        .order_by(SmppUpstreamPart.id)
    ):
        out.setdefault(ref, error)
    return out


def mark_sent(model: Any, ids: list[int]) -> None:
    with unit_of_work() as session:
        session.execute(
            update(model).where(model.id.in_(ids)).values(receipt_sent=True),
            execution_options={"synchronize_session": False},
        )


def ismg_due(protocol: str, logins: list[str], limit: int) -> list[Due]:
    return due_reports(IsmgMessage, IsmgMessage.login, logins, limit, IsmgMessage.protocol == protocol)


def ismg_mark_sent(ids: list[int]) -> None:
    mark_sent(IsmgMessage, ids)

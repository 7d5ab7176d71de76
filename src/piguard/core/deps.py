"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from piguard.core import db


def db_session() -> Iterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back on error."""
    with db.unit_of_work() as session:
        yield session


#: The dependency every route takes its session from. ``scope="function"`` ends the unit of work,
#: and so commits, before the response is sent: a 200 is never answered for a transaction that then
#: fails to commit or that a crash right after the answer would lose (FastAPI's default scope for a
#: yield dependency runs its exit after the response).
DbSession: Session = Depends(db_session, scope="function")


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None

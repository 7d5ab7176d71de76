"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from piguard.core import db


def db_session() -> Iterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back on error."""
    with db.unit_of_work() as session:
        yield session


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None

"""Connectors to the operator's systems: ``sql`` (piguard reaches the database) and ``manual`` (a
task for the system's owner). Which one a system uses is its inventory ``connector`` entry."""

from __future__ import annotations

from piguard.rights.connectors.base import MappingError, TargetDown
from piguard.rights.connectors.sql import SqlConnector, connector_url

__all__ = ["MappingError", "SqlConnector", "TargetDown", "connector_url"]

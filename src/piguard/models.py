"""Every domain's tables, imported in one place so Alembic and the tests see the whole schema."""

from __future__ import annotations

from piguard.core.db import Base
from piguard.core.modules import import_if_present

MODEL_MODULES = [
    "piguard.core.crypto.models",
    "piguard.audit.models",
    "piguard.identity.models",
    "piguard.discovery.models",
    "piguard.consent.models",
    "piguard.inventory.models",
    "piguard.messaging.models",
    "piguard.messaging.smpp.models",
    "piguard.messaging.cmpp.models",
    "piguard.messaging.ismg.models",
    "piguard.messaging.callbacks.models",
    "piguard.messaging.routing.models",
    "piguard.messaging.monitor.models",
    "piguard.rights.models",
    "piguard.cases.models",
    "piguard.cases.incident_models",
    "piguard.oversight.models",
    "piguard.oversight.bulk_models",
    "piguard.oversight.reviews_models",
    "piguard.oversight.inspection_models",
]


def load_all() -> type[Base]:
    for name in MODEL_MODULES:
        import_if_present(name)
    return Base


metadata = load_all().metadata

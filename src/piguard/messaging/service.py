"""The messaging façade: what the API, the CLI, the SMPP transport and the early-warning monitor call.

Service functions take a session and never commit (the caller owns the unit of work).

* :func:`submit` — decide, record and queue a batch (``dry_run`` decides only);
* :func:`decide` — the pure decision for one message over a prepared :class:`GatewayContext`
  (:func:`load_context` prepares it);
* :func:`receive_reply` — an inbound reply (opt-out, grant, refusal, ambiguous);
* :func:`deliver_report`, :func:`drain_outbox` and :class:`Transport` — the transport side;
* registry writers and getters, :func:`suspend_content_provider` / :func:`set_suspension`;
* :func:`records_search`, :func:`counters` — records and per-content-provider monitoring counters;
* consent: :func:`create_request`, :func:`record_consent`, :func:`end_consents`, :func:`expire_requests`,
  :func:`subscription_event` (what ``consent/``'s ledger calls to end a subscription).
"""

from __future__ import annotations

from piguard.messaging.gateway.decision import (
    GatewayContext,
    GatewayRequest,
    Prepared,
    decide,
    evaluate,
    prepare,
)
from piguard.messaging.gateway.submit import GatewayResult, load_context, submit
from piguard.messaging.records.service import (
    LoopbackTransport,
    OutboundMessage,
    RecordQuery,
    Transport,
    counters,
    deliver_report,
    drain_outbox,
    purge_expired,
    recipient_clear,
    record_to_dict,
    records_search,
    subscription_event,
)
from piguard.messaging.registry.service import (
    add_signature,
    approve_signature,
    create_campaign,
    create_charged_service,
    create_content_provider,
    create_port,
    create_service_provider,
    get_content_provider,
    list_content_providers,
    list_ports,
    list_service_providers,
    list_signatures,
    list_suspensions,
    list_templates,
    resume_content_provider,
    review_signature,
    review_template,
    set_suspension,
    snapshot,
    suspend_content_provider,
    verify_content_provider,
)
from piguard.messaging.subscriptions.consent import (
    bulk_consents,
    create_request,
    end_consents,
    expire_requests,
    list_requests,
    record_consent,
    request_to_dict,
)
from piguard.messaging.subscriptions.inbound import InboundResult, receive_reply

__all__ = [
    "GatewayContext",
    "GatewayRequest",
    "GatewayResult",
    "InboundResult",
    "LoopbackTransport",
    "OutboundMessage",
    "Prepared",
    "RecordQuery",
    "Transport",
    "add_signature",
    "approve_signature",
    "bulk_consents",
    "counters",
    "create_campaign",
    "create_charged_service",
    "create_content_provider",
    "create_port",
    "create_request",
    "create_service_provider",
    "decide",
    "deliver_report",
    "drain_outbox",
    "end_consents",
    "evaluate",
    "expire_requests",
    "get_content_provider",
    "list_content_providers",
    "list_ports",
    "list_requests",
    "list_service_providers",
    "list_signatures",
    "list_suspensions",
    "list_templates",
    "load_context",
    "prepare",
    "purge_expired",
    "receive_reply",
    "recipient_clear",
    "record_consent",
    "record_to_dict",
    "records_search",
    "request_to_dict",
    "resume_content_provider",
    "review_signature",
    "review_template",
    "set_suspension",
    "snapshot",
    "submit",
    "subscription_event",
    "suspend_content_provider",
    "verify_content_provider",
]

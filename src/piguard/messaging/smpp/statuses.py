"""Gateway refusals as SMPP ``command_status`` values (the table in docs/sms-smpp.md).

A refusal carries several reasons; the status is that of the first reason found in the precedence
order of :data:`REFUSAL_STATUS` (who may send, then what, then to whom), so the ESME learns the
most fundamental problem first. Every reason, with its obligation ids, stays in piguard's records.
"""

from __future__ import annotations

from collections.abc import Iterable

from piguard.messaging.smpp.pdu import Status
from piguard.regulations.markers import carries

#: reason code -> status, in precedence order
REFUSAL_STATUS: dict[str, Status] = {
    "sender_unregistered": Status.ESME_RINVSRCADR,  # O31-10, O31-13
    "sender_not_this_provider": Status.ESME_RINVSRCADR,  # O31-10, O31-13 (port of another provider)
    "content_provider_unverified": Status.PG_PROVIDER_NOT_QUALIFIED,  # O31-12
    "service_provider_inactive": Status.PG_PROVIDER_NOT_QUALIFIED,  # O31-6
    "content_provider_suspended": Status.PG_SUSPENDED,  # O31-23, O24-14.2, O31-28
    "port_suspended": Status.PG_SUSPENDED,
    "prohibited_content": Status.PG_PROHIBITED_CONTENT,  # O31-16, CSL-47
    "pi_in_content": Status.PG_PI_IN_CONTENT,  # O24-10, CSL-40, CSL-42.1
    "signature_missing": Status.PG_SIGNATURE,  # O31-21
    "signature_empty": Status.PG_SIGNATURE,
    "signature_generic": Status.PG_SIGNATURE,
    "signature_mismatch": Status.PG_SIGNATURE,
    "signature_extra_brackets": Status.PG_SIGNATURE,
    "optout_missing": Status.PG_OPTOUT_WORDING,  # O31-20
    "optout_obstacle": Status.PG_OPTOUT_WORDING,
    "port_type_mismatch": Status.PG_PORT_TYPE,  # O31-19, O31-13
    "port_scope_mismatch": Status.PG_PORT_TYPE,  # O31-13, O31-17
    "commercial_content_not_declared": Status.PG_PORT_TYPE,  # O31-19, O31-18.1
    "campaign_missing": Status.PG_CAMPAIGN,  # O31-17
    "consent_type_missing": Status.PG_NO_CONSENT,  # O31-18.2
    "consent_missing": Status.PG_NO_CONSENT,  # O31-18.1, CRL-29, NPC-7
    "consent_expired": Status.PG_NO_CONSENT,  # O31-18.2, O31-18.1
    "consent_changed": Status.PG_NO_CONSENT,  # O31-18.1, O31-20 (opt-out while deciding)
    "consent_frequency_exceeded": Status.PG_FREQUENCY_EXCEEDED,  # O31-18.2
    "similar_content_refused": Status.PG_SIMILAR_REFUSED,  # O31-18.2
}

#: input errors (the field the gateway rejected) -> status
FIELD_STATUS: dict[str, Status] = {
    "recipient": Status.ESME_RINVDSTADR,
    "sender": Status.ESME_RINVSRCADR,
    "text": Status.ESME_RINVMSGLEN,
    "kind": Status.ESME_RINVOPTPARAMVAL,
    "message_type": Status.ESME_RINVOPTPARAMVAL,
}


@carries("O31-10", "O31-16", "O31-18.1", "O31-20", "O31-21", "O31-23")
def refusal_status(reason_codes: Iterable[str]) -> int:
    """The status for a refused message (ESME_RSUBMITFAIL when no reason is in the table)."""
    codes = set(reason_codes)
    for code, status in REFUSAL_STATUS.items():
        if code in codes:
            return int(status)
    return int(Status.ESME_RSUBMITFAIL)


def error_status(fields: Iterable[str]) -> int:
    for f in fields:
        if f in FIELD_STATUS:
            return int(FIELD_STATUS[f])
    return int(Status.ESME_RSUBMITFAIL)

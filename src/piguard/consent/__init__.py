"""One consent ledger per person (O24-9.1, CSL-41.1, CRL-29, NPC-2) and the use decision ``may()``.

Purpose consents live here (per subject keyed hash, purpose and rules version, with evidence); the
gateway's commercial-message consents (O31-18) stay in ``messaging`` as a specialised ledger behind
the same listing and withdrawal interface (:mod:`piguard.consent.ledgers`). See docs/consent.md.
"""

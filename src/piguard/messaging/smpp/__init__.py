"""SMPP 3.4 transport of the commercial-message gateway (docs/sms-smpp.md).

* :mod:`.server` — piguard as the SMSC content providers' ESMEs bind to; every submit_sm is decided
  by the gateway before it goes anywhere;
* :mod:`.client` — piguard as an ESME of the upstream SMS centre (the gateway's ``Transport``);
* :mod:`.bridge` — both wired to the gateway (decision, outbox, receipts, MO replies);
* :mod:`.pdu`, :mod:`.text` — the codec; :mod:`.statuses` — refusals as command_status values.
"""

"""The outbound decision: ``decision`` (the ordered steps over a prepared context), ``submit`` (a batch
decided and emitted: record, outbox, audit), ``release`` (held messages re-decided), ``similarity``
(SimHash fingerprints), ``cli`` (``piguard sms send/check/inbound/registry``).

Nothing here imports a transport (``smpp/``): transports call in through ``messaging.service``.
"""

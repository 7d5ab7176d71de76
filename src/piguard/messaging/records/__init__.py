"""Message records (O31-11): the record and outbox rows, delivery reports, search, counters and
retention (``service``), PostgreSQL monthly partitions (``partitions``). Addresses are normalised
and masked by ``core.addresses``, hashed and encrypted by ``core.crypto`` (``protect`` only
re-exports them for older callers).
"""

"""Message records (O31-11): the record and outbox rows, delivery reports, search, counters and
retention (``service``), PostgreSQL monthly partitions (``partitions``), addresses at rest
(``protect``: normalised, hashed, masked, encrypted).
"""

"""Login checks shared by CMPP and SMGP: the MMDDHHMMSS timestamp of an MD5 authenticator, compared
with piguard's clock in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime


def timestamp_skew(timestamp: int, now: datetime) -> float | None:
    """Seconds between a login Timestamp (MMDDHHMMSS, no year: the nearest year is taken) and
    ``now`` (Asia/Shanghai); None when it names no valid time."""
    s = f"{timestamp:010d}"
    if len(s) != 10:
        return None
    best: float | None = None
    for year in (now.year - 1, now.year, now.year + 1):
        try:
            t = datetime(
                year, int(s[0:2]), int(s[2:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), tzinfo=now.tzinfo
            )
        except ValueError:
            continue
        d = abs((t - now).total_seconds())
        best = d if best is None else min(best, d)
    return best

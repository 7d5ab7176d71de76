"""Shared bits of the bulk-operation tests: two compliance officers (maker and checker) and a
synthetic export (made-up people: discovery's seeded generator)."""

from __future__ import annotations

from piguard.discovery.scanners import to_csv_line
from piguard.discovery.synth import Synth

PASSWORD = "a long bulk test password 1"


def export_csv(n: int, seed: int = 11) -> str:
    s = Synth(seed)
    lines = [to_csv_line(["name", "mobile", "id_number", "plan"])]
    for i in range(n):
        lines.append(to_csv_line([s.name(), s.mobile_digits(), s.id_card(), f"plan-{i % 7}"]))
    return "".join(lines)

"""k-anonymity check before sharing a de-identified table (CSL-42.1).

CSL-42.1 allows provision to others without consent only of data "processed so that a specific
person cannot be identified and cannot be restored". A table whose quasi-identifiers (age band,
city, gender…) single out a small group can be re-linked with outside data; this check groups the
rows by the chosen quasi-identifiers and reports every row in a group smaller than ``k``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from piguard.core.errors import FieldError, validation_error
from piguard.core.reasons import Decision, Reason
from piguard.regulations.markers import carries


@dataclass
class KAnonymityReport:
    k: int
    quasi_identifiers: tuple[str, ...]
    rows: int
    classes: int
    smallest_class: int
    failing_rows: list[int] = field(default_factory=list)  # 0-based row numbers
    failing_classes: int = 0

    @property
    def satisfied(self) -> bool:
        return not self.failing_rows

    def decision(self) -> Decision:
        if self.satisfied:
            return Decision.allow(
                Reason(
                    "k_anonymous",
                    ("CSL-42.1",),
                    f"Every combination of {', '.join(self.quasi_identifiers)} is shared by at least {self.k} rows.",
                    f"准标识符（{'、'.join(self.quasi_identifiers)}）的每种组合至少对应 {self.k} 行。",
                    {"k": self.k, "rows": self.rows, "classes": self.classes},
                )
            )
        return Decision.refuse(
            Reason(
                "not_k_anonymous",
                ("CSL-42.1",),
                f"{len(self.failing_rows)} rows fall in {self.failing_classes} groups smaller than k={self.k}: "
                "they could be re-identified; generalise or suppress them before sharing.",
                f"有 {len(self.failing_rows)} 行处于 {self.failing_classes} 个少于 k={self.k} 的分组中，可能被重新识别；"
                "共享前请泛化或删除。",
                {"k": self.k, "failing_rows": len(self.failing_rows), "smallest_class": self.smallest_class},
            )
        )

    def to_dict(self, max_rows: int | None = 1000) -> dict[str, Any]:
        return {
            "k": self.k,
            "quasi_identifiers": list(self.quasi_identifiers),
            "rows": self.rows,
            "classes": self.classes,
            "smallest_class": self.smallest_class,
            "satisfied": self.satisfied,
            "failing_classes": self.failing_classes,
            "failing_row_count": len(self.failing_rows),
            "failing_rows": self.failing_rows[:max_rows] if max_rows is not None else self.failing_rows,
            "decision": self.decision().to_dict(),
        }


@carries("CSL-42.1")
def check_k_anonymity(
    rows: Iterable[Mapping[str, Any]], quasi_identifiers: Sequence[str], k: int
) -> KAnonymityReport:
    """Group rows by their quasi-identifier values; rows in groups smaller than ``k`` fail."""
    if k < 2:
        raise validation_error([FieldError("k", "k must be at least 2")])
    qi = tuple(quasi_identifiers)
    if not qi:
        raise validation_error([FieldError("quasi_identifiers", "name at least one column")])
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    n = 0
    for i, row in enumerate(rows):
        if i == 0:
            missing = [c for c in qi if c not in row]
            if missing:
                raise validation_error(
                    [FieldError("quasi_identifiers", f"no column {c!r}") for c in missing],
                    "Unknown quasi-identifier column.",
                    "准标识符列不存在。",
                )
        groups[tuple(str(row.get(c, "")) for c in qi)].append(i)
        n = i + 1
    failing: list[int] = []
    failing_classes = 0
    for members in groups.values():
        if len(members) < k:
            failing.extend(members)
            failing_classes += 1
    failing.sort()
    return KAnonymityReport(
        k=k,
        quasi_identifiers=qi,
        rows=n,
        classes=len(groups),
        smallest_class=min((len(m) for m in groups.values()), default=0),
        failing_rows=failing,
        failing_classes=failing_classes,
    )

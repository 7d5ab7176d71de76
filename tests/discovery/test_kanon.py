from __future__ import annotations

import pytest

from piguard.core.errors import PiguardError
from piguard.core.reasons import Outcome
from piguard.discovery.kanon import check_k_anonymity

pytestmark = pytest.mark.obligation("CSL-42.1")

ROWS = [
    {"age": "30-39", "city": "北京市", "sex": "F", "v": 1},
    {"age": "30-39", "city": "北京市", "sex": "F", "v": 2},
    {"age": "30-39", "city": "北京市", "sex": "F", "v": 3},
    {"age": "40-49", "city": "上海市", "sex": "M", "v": 4},
    {"age": "40-49", "city": "上海市", "sex": "M", "v": 5},
    {"age": "20-29", "city": "广州市", "sex": "M", "v": 6},
]


def test_rows_in_small_groups_fail() -> None:
    r = check_k_anonymity(ROWS, ["age", "city", "sex"], 3)
    assert (
        not r.satisfied and r.failing_rows == [3, 4, 5] and r.failing_classes == 2 and r.smallest_class == 1
    )
    d = r.decision()
    assert d.outcome is Outcome.REFUSE and d.obligations == ("CSL-42.1",)
    assert r.to_dict()["failing_row_count"] == 3


def test_coarser_quasi_identifiers_pass() -> None:
    r = check_k_anonymity(ROWS, ["sex"], 3)
    assert r.satisfied and r.decision().allowed and r.classes == 2


def test_bad_parameters() -> None:
    for qi, k in ((["age"], 1), ([], 3), (["nope"], 2)):
        with pytest.raises(PiguardError):
            check_k_anonymity(ROWS, qi, k)

"""Quality on the labelled corpus of real Chinese SMS (../shared/corpora/sms/zh-sms-10k.tsv, read
in place): how well the review's commercial reading matches label 1 (spam/advertising).

Floors are the figures measured when the rules were tuned (docs/sms-review.md) minus a margin of
about 0.03; a change to the data files that drops below them is a regression.
Measured: kind == commercial P 0.865 R 0.874; commercial or prohibited P 0.865 R 0.886.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from piguard.messaging.review import default_reviewer
from piguard.messaging.review.corpus import CORPUS_RELATIVE, load_corpus, measure

pytestmark = pytest.mark.obligation("O31-18.1", "O31-16")

FLOORS = {
    "kind == commercial": (0.83, 0.84),
    "commercial or prohibited": (0.83, 0.85),
}


@pytest.fixture(scope="module")
def corpus() -> list[tuple[bool, str]]:
    from tests.conftest import SHARED

    path = SHARED / CORPUS_RELATIVE
    if not path.is_file():
        pytest.skip(f"SMS corpus not found at {path}")
    return load_corpus(path)


def test_corpus_precision_and_recall(corpus: list[tuple[bool, str]]) -> None:
    assert len(corpus) > 9000 and sum(label for label, _ in corpus) > 900
    scores = measure(corpus, default_reviewer())
    for name, (precision, recall) in FLOORS.items():
        score = scores[name]
        assert score.precision >= precision, score.line()
        assert score.recall >= recall, score.line()


def test_corpus_path_is_read_in_place() -> None:
    from piguard.messaging.review.corpus import default_corpus_path

    assert default_corpus_path().parts[-4:] == ("shared", *CORPUS_RELATIVE.parts)
    assert not (Path(__file__).parents[2] / CORPUS_RELATIVE).exists()  # never copied into the repo

"""'The same or similar content' (O31-18.2): 64-bit SimHash over character bigrams of the normalised
text (NFKC, case, variants, separators removed, every number read as one digit; the 【signature】 and the opt-out wording are kept out
so that only the offer itself counts). Similarity is ``1 - hamming / 64``; the threshold is the
setting ``PIGUARD_SMS_SIMILARITY_THRESHOLD``."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from piguard.messaging.review import load_rules
from piguard.regulations.markers import carries

_SIG = re.compile(r"【[^【】]*】")
_MASK64 = (1 << 64) - 1
_DIGITS = re.compile(r"\d+")
_OPTOUT = re.compile(r"(回复?|拒收请回复?|退订回?)\s*[A-Za-zＡ-Ｚａ-ｚ0-9]{1,4}\s*(退订|拒收)?")


@lru_cache(maxsize=65536)
def _feature(gram: str) -> int:
    return int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")


@lru_cache(maxsize=8192)
@carries("O31-18.2")
def simhash(text: str) -> int:
    """Signed 64-bit SimHash (fits a BIGINT column)."""
    body = _OPTOUT.sub("", _SIG.sub("", text))
    norm = _DIGITS.sub("0", load_rules().normalizer.normalize(body))
    grams = [norm[i : i + 2] for i in range(max(1, len(norm) - 1))] if norm else [""]
    counts = [0] * 64
    for g in grams:
        h = _feature(g)
        for bit in range(64):
            counts[bit] += 1 if (h >> bit) & 1 else -1
    value = 0
    for bit in range(64):
        if counts[bit] > 0:
            value |= 1 << bit
    return value - (1 << 64) if value >= 1 << 63 else value


def similarity(a: int, b: int) -> float:
    return 1.0 - ((a ^ b) & _MASK64).bit_count() / 64.0


@lru_cache(maxsize=1024)
def bigrams(text: str) -> frozenset[str]:
    """The character bigrams of the normalised text (signature and opt-out wording left out)."""
    body = _OPTOUT.sub("", _SIG.sub("", text))
    norm = _DIGITS.sub("0", load_rules().normalizer.normalize(body))
    return frozenset(norm[i : i + 2] for i in range(len(norm) - 1))


@carries("O31-17")
def overlap(text: str, notified: frozenset[str]) -> float:
    """How much of a public-welfare text is the content that was notified for its campaign: the
    shared bigrams over the smaller of the two sets (1.0 when one contains the other, 0.0 when
    they share nothing)."""
    grams = bigrams(text)
    if not grams or not notified:
        return 0.0
    return len(grams & notified) / min(len(grams), len(notified))

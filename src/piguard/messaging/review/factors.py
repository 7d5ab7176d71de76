"""Necessary literal factors of a regular expression: the content review's pattern pre-filter
without Hyperscan.

``necessary_sets(regex)`` gives sets of strings such that any match of ``regex`` contains, for
every set, at least one of its strings: a text that lacks every string of one set cannot match,
and the pattern need not run. The compiled matcher (``piguard._native.sms_review.Automaton``,
rules._Matcher's ``native`` backend) finds these strings in the same pass as the literal keys and
reports a pattern only when each of its sets occurs; :func:`may_match` is the same test in Python.

Read from the parsed pattern (``re._parser``): literals, small character classes, alternations,
groups, bounded repeats and zero-width assertions are followed; anything else (a large class, an
unbounded repeat, a back-reference) ends a run of literal text. A pattern with flags that change
what a literal matches (``re.IGNORECASE``, ``re.VERBOSE`` or inline flags inside a group) gets no
sets: it always runs.
"""

from __future__ import annotations

import re
import re._constants as _c  # type: ignore[import-not-found,unused-ignore]
import re._parser as _p  # type: ignore[import-not-found,unused-ignore]
from collections.abc import Iterable
from typing import Any

#: the most strings a set holds (alternations multiply)
MAX_SET = 64
#: the most sets a pattern keeps (the compiled matcher keeps one bit a set)
MAX_SETS = 32

_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT) + (
    (_c.POSSESSIVE_REPEAT,) if hasattr(_c, "POSSESSIVE_REPEAT") else ()
)
_ZERO_WIDTH = (_c.AT, _c.ASSERT, _c.ASSERT_NOT)
Strings = frozenset[str]


def _product(a: Iterable[str], b: Iterable[str]) -> set[str] | None:
    out = {x + y for x in a for y in b}
    return out if len(out) <= MAX_SET else None


def _union(branches: Any, of: Any) -> set[str] | None:
    """The union of ``of(branch)`` over an alternation's branches; None when one gives None."""
    out: set[str] = set()
    for branch in branches:
        e = of(branch.data)
        if e is None:
            return None
        out |= e
    return out if len(out) <= MAX_SET else None


def _exact_seq(items: Any) -> set[str] | None:
    """Every string the sequence ``items`` matches, when they are few; else None."""
    out: set[str] | None = {""}
    for op, av in items:
        e = _exact(op, av)
        if e is None or out is None:
            return None
        out = _product(out, e)
    return out


def _exact(op: Any, av: Any) -> set[str] | None:
    if op is _c.LITERAL:
        return {chr(av)}
    if op is _c.IN:
        chars: set[str] = set()
        for o, a in av:
            if o is _c.LITERAL:
                chars.add(chr(a))
            elif o is _c.RANGE and a[1] - a[0] < 16:
                chars.update(chr(x) for x in range(a[0], a[1] + 1))
            else:
                return None  # a negation, a category, a wide range
        return chars if len(chars) <= MAX_SET else None
    if op is _c.SUBPATTERN:
        _group, add, delete, p = av
        return None if add or delete else _exact_seq(p.data)
    if op is _c.BRANCH:
        return _union(av[1], _exact_seq)
    if op in _REPEATS:
        lo, hi, p = av
        if hi is _c.MAXREPEAT or hi > 4:
            return None
        e = _exact_seq(p.data)
        if e is None:
            return None
        out, cur = set(), {""}
        for k in range(hi + 1):
            if k >= lo:
                out |= cur
            if k < hi:
                nxt = _product(cur, e)
                if nxt is None:
                    return None
                cur = nxt
        return out if len(out) <= MAX_SET else None
    if op in _ZERO_WIDTH:
        return {""}  # consumes nothing: the text either side is adjacent
    return None


def _useful(s: set[str] | None) -> bool:
    return s is not None and bool(s) and "" not in s


def _rank(s: set[str]) -> tuple[int, int]:
    return min(map(len, s)), -len(s)


def _one_set(op: Any, av: Any) -> set[str] | None:
    """One necessary set of a single element that is not an exact one."""
    if op is _c.SUBPATTERN:
        _group, add, delete, p = av
        return None if add or delete else _best(_sets_seq(p.data))
    if op is _c.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            best = _best(_sets_seq(branch.data))
            if best is None:
                return None  # a branch with no necessary string: nothing is necessary
            out |= best
        return out
    if op in _REPEATS and av[0] >= 1:
        return _best(_sets_seq(av[2].data))
    return None


def _best(sets: list[set[str]]) -> set[str] | None:
    return max(sets, key=_rank) if sets else None


def _sets_seq(items: Any) -> list[set[str]]:
    """Necessary sets of a sequence: its runs of exact text and its elements' own sets."""
    out: list[set[str]] = []
    run: set[str] = {""}
    for op, av in items:
        e = _exact(op, av)
        if e is not None:
            nxt = _product(run, e)
            if nxt is not None:
                run = nxt
                continue
            if _useful(run):
                out.append(run)
            run = e
            continue
        if _useful(run):
            out.append(run)
        run = {""}
        if op is _c.SUBPATTERN and not (av[1] or av[2]):
            out.extend(_sets_seq(av[3].data))
        elif op in _REPEATS and av[0] >= 1:
            out.extend(_sets_seq(av[2].data))
        else:
            one = _one_set(op, av)
            if _useful(one):
                out.append(one)  # type: ignore[arg-type]
    if _useful(run):
        out.append(run)
    return out


def necessary_sets(regex: str) -> tuple[Strings, ...]:
    """Sets of strings each of which a match of ``regex`` contains one of (see the module)."""
    parsed = _p.parse(regex)
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return ()
    found: list[Strings] = []
    for s in _sets_seq(parsed.data):
        fs = frozenset(s)
        if fs not in found:
            found.append(fs)
    found.sort(key=lambda s: _rank(set(s)), reverse=True)
    return tuple(found[:MAX_SETS])


def _prefix_seq(items: Any) -> set[str] | None:
    """The strings one of which every match of the sequence starts with, or None."""
    run: set[str] = {""}
    for op, av in items:
        e = _exact(op, av)
        if e is not None:
            nxt = _product(run, e)
            if nxt is None:
                break
            run = nxt
            continue
        if run == {""}:  # nothing consumed yet (zero-width at most): the element's own prefix
            return _prefix_one(op, av)
        break
    return run if _useful(run) else None


def _prefix_one(op: Any, av: Any) -> set[str] | None:
    if op is _c.SUBPATTERN:
        return None if av[1] or av[2] else _prefix_seq(av[3].data)
    if op is _c.BRANCH:
        return _union(av[1], _prefix_seq)
    if op in _REPEATS and av[0] >= 1:
        return _prefix_seq(av[2].data)
    return None


def prefix_set(regex: str) -> Strings | None:
    """The strings one of which every match of ``regex`` starts with (None: no such set). The
    compiled matcher records where they occur, and the pattern is tried with ``match`` at those
    positions only, in order: the first that matches is the leftmost match ``search`` finds."""
    parsed = _p.parse(regex)
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    found = _prefix_seq(parsed.data)
    return frozenset(found) if found is not None else None


#: the characters of a number on normalised text (digits, and ``x`` for a masked digit)
RUN_CHARS = frozenset("0123456789x")


def _in_run_chars(op: Any, av: Any) -> bool:
    if op is _c.LITERAL:
        return chr(av) in RUN_CHARS
    if op is _c.IN:
        for o, a in av:
            if o is _c.LITERAL and chr(a) in RUN_CHARS:
                continue
            if o is _c.RANGE and all(chr(x) in RUN_CHARS for x in range(a[0], a[1] + 1)):
                continue
            return False
        return True
    return False


def _run_seq(items: Any) -> int:
    best = cur = 0
    for op, av in items:
        if _in_run_chars(op, av):
            cur += 1
        elif op in _REPEATS and len(av[2].data) == 1 and _in_run_chars(*av[2].data[0]):
            cur += av[0]  # however many it takes, the run goes on into what follows
        elif op in _ZERO_WIDTH:
            continue
        else:
            best, cur = max(best, cur), 0
            best = max(best, _run_one(op, av))
    return max(best, cur)


def _run_one(op: Any, av: Any) -> int:
    if op is _c.SUBPATTERN:
        return 0 if av[1] or av[2] else _run_seq(av[3].data)
    if op is _c.BRANCH:
        return min(_run_seq(b.data) for b in av[1])
    if op in _REPEATS and av[0] >= 1:
        return _run_seq(av[2].data)
    return 0


def necessary_run(regex: str) -> int:
    """The length of a run of :data:`RUN_CHARS` that every match of ``regex`` contains (0: none)."""
    parsed = _p.parse(regex)
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return 0
    return _run_seq(parsed.data)


def longest_run(text: str) -> int:
    """The longest run of :data:`RUN_CHARS` in ``text``."""
    best = cur = 0
    for ch in text:
        cur = cur + 1 if ch in RUN_CHARS else 0
        best = max(best, cur)
    return best


def may_match(sets: tuple[Strings, ...], run: int, text: str) -> bool:
    """Whether ``text`` holds one string of each set and a run of ``run`` number characters
    (False: a pattern with these requirements cannot match)."""
    return all(any(x in text for x in s) for s in sets) and (run == 0 or longest_run(text) >= run)

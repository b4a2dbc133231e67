"""Proximity algorithms against tables and against brute force on random occurrences."""

from __future__ import annotations

import itertools
import random

import pytest

from watcher.rules.evaluate import pair_holds, window_holds

Span = tuple[int, int]

PAIRS: list[tuple[list[Span], list[Span], int, Span | None]] = [
    # (a, b, N, first satisfying window)
    ([(0, 0)], [(1, 1)], 1, (0, 1)),  # adjacent
    ([(0, 0)], [(2, 2)], 1, None),  # one word between
    ([(0, 0)], [(2, 2)], 2, (0, 2)),
    ([(5, 5)], [(2, 2)], 3, (2, 5)),  # either order
    ([(5, 5)], [(1, 1)], 3, None),
    ([(0, 1)], [(3, 3)], 2, (0, 3)),  # a two-word phrase counts from its nearer end
    ([(0, 1)], [(4, 4)], 2, None),
    ([(0, 0), (50, 50)], [(52, 52)], 2, (50, 52)),
    ([(0, 0)], [(0, 0)], 5, None),  # the same occurrence is not near itself
    ([(0, 0), (3, 3)], [(0, 0), (3, 3)], 3, (0, 3)),  # ... but another occurrence is
    ([(0, 0), (3, 3)], [(0, 0), (3, 3)], 2, None),
    ([(2, 4)], [(3, 3)], 1, (2, 4)),  # overlapping spans count as near
    ([], [(1, 1)], 5, None),
]


@pytest.mark.parametrize(("a", "b", "distance", "expected"), PAIRS)
def test_pair_holds(a: list[Span], b: list[Span], distance: int, expected: Span | None) -> None:
    assert pair_holds(a, b, distance) == expected


def brute_pair(a: list[Span], b: list[Span], distance: int) -> bool:
    return any(
        x != y and max(x[0], y[0]) - min(x[1], y[1]) <= distance for x, y in itertools.product(a, b)
    )


def random_spans(rng: random.Random, width: int = 1) -> list[Span]:
    starts = sorted(rng.sample(range(60), rng.randint(0, 6)))
    return [(s, s + rng.randint(0, width - 1)) for s in starts]


def test_pair_holds_agrees_with_brute_force() -> None:
    rng = random.Random(11)
    agreed = {True: 0, False: 0}
    for _ in range(4_000):
        a, b = random_spans(rng, 3), random_spans(rng, 2)
        if rng.random() < 0.2:
            b = a  # the same term on both sides
        distance = rng.randint(1, 8)
        found = pair_holds(a, b, distance)
        assert (found is not None) is brute_pair(a, b, distance), (a, b, distance)
        agreed[found is not None] += 1
    assert min(agreed.values()) > 500  # both outcomes were exercised


WINDOWS: list[tuple[list[list[Span]], int, Span | None]] = [
    # (occurrence lists, limit on start spread, first window)
    ([[(0, 0)], [(1, 1)]], 1, (0, 1)),
    ([[(0, 0)], [(2, 2)]], 1, None),
    ([[(0, 0)], [(2, 2)], [(4, 4)]], 4, (0, 4)),
    ([[(0, 0)], [(2, 2)], [(4, 4)]], 3, None),
    ([[(9, 9)], [(2, 2)], [(4, 4)]], 7, (2, 9)),
    ([[(0, 0), (10, 10)], [(11, 11)]], 1, (10, 11)),
]


@pytest.mark.parametrize(("lists", "limit", "expected"), WINDOWS)
def test_window_holds(lists: list[list[Span]], limit: int, expected: Span | None) -> None:
    assert window_holds(lists, limit) == expected


def test_window_needs_distinct_occurrences_of_a_repeated_word() -> None:
    same = [(0, 0), (5, 5), (6, 6)]
    assert window_holds([same, same], 1) == (5, 6)
    assert window_holds([same, same], 0) is None
    assert window_holds([same, same, same], 6) == (0, 6)
    assert window_holds([same, same, same, same], 100) is None


def brute_window(lists: list[list[Span]], limit: int) -> bool:
    for choice in itertools.product(*lists):
        distinct = len({(id(lst), span) for lst, span in zip(lists, choice, strict=True)})
        if distinct < len(lists):
            continue
        starts = [s[0] for s in choice]
        if max(starts) - min(starts) <= limit:
            return True
    return False


def test_window_holds_agrees_with_brute_force() -> None:
    rng = random.Random(12)
    outcomes = {True: 0, False: 0}
    for _ in range(2_000):
        pool = [random_spans(rng) for _ in range(3)]
        lists = [rng.choice(pool) for _ in range(rng.randint(2, 4))]
        limit = rng.randint(0, 12)
        found = window_holds(lists, limit)
        assert (found is not None) is brute_window(lists, limit), (lists, limit)
        outcomes[found is not None] += 1
    assert min(outcomes.values()) > 200

"""Reads kept for a few seconds (adapters.recent), on a hand-set clock."""

from __future__ import annotations

from boomerang.messenger.adapters.recent import RecentReads


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_read_is_kept_for_its_age_and_then_read_again() -> None:
    clock = Clock()
    recent: RecentReads[str, int] = RecentReads(5, clock)
    recent.put_many({"beans": 1, "mug": None})  # type: ignore[dict-item]

    clock.now += 5
    assert recent.get_many(["beans", "mug", "kettle"]) == ({"beans": 1, "mug": None}, ["kettle"])
    clock.now += 0.01
    assert recent.get_many(["beans"]) == ({}, ["beans"])


def test_what_is_forgotten_is_read_again() -> None:
    recent: RecentReads[tuple[str, str], int] = RecentReads(5, Clock())
    recent.put_many({("s1", "beans"): 1, ("s1", "mug"): 2, ("s2", "beans"): 3})

    recent.forget([("s1", "beans")])
    assert recent.get_many([("s1", "beans"), ("s1", "mug")]) == ({("s1", "mug"): 2}, [("s1", "beans")])
    recent.forget_where(lambda key: key[0] == "s1")
    assert recent.get_many([("s1", "mug"), ("s2", "beans")]) == ({("s2", "beans"): 3}, [("s1", "mug")])


def test_no_age_keeps_nothing_and_a_full_cache_starts_over() -> None:
    assert RecentReads(0, Clock()).get_many(["beans"]) == ({}, ["beans"])
    none: RecentReads[str, int] = RecentReads(0, Clock())
    none.put_many({"beans": 1})
    assert none.get_many(["beans"]) == ({}, ["beans"])

    small: RecentReads[str, int] = RecentReads(5, Clock(), most=2)
    small.put_many({"beans": 1, "mug": 2})
    small.put_many({"kettle": 3})
    assert small.get_many(["beans", "mug", "kettle"]) == ({"kettle": 3}, ["beans", "mug"])

"""Reads kept for a few seconds, for data many messages share and few writes change.

A store's co-purchase counts and catalogue entries are read for every receipt, and the same
products recur in order after order. Kept here, they are read once in `max_age_s`, and what
this process writes it forgets at once (`forget`), so it never reads its own writes stale; only
another replica's writes can take up to `max_age_s` to show.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class RecentReads(Generic[Key, Value]):
    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic, most: int = 50_000) -> None:
        self._max_age_s = max_age_s
        self._clock = clock
        self._most = most  # a bound on memory: past it, everything is read afresh
        self._kept: dict[Key, tuple[float, Value]] = {}

    def get_many(self, keys: Iterable[Key]) -> tuple[dict[Key, Value], list[Key]]:
        """The values kept and fresh, and the keys to read."""
        oldest = self._clock() - self._max_age_s
        found: dict[Key, Value] = {}
        missing: list[Key] = []
        for key in keys:
            kept = self._kept.get(key)
            if kept is not None and kept[0] >= oldest:
                found[key] = kept[1]
            else:
                missing.append(key)
        return found, missing

    def put_many(self, values: Mapping[Key, Value]) -> None:
        if self._max_age_s <= 0:
            return
        if len(self._kept) + len(values) > self._most:
            self._kept.clear()
        now = self._clock()
        self._kept.update((key, (now, value)) for key, value in values.items())

    def forget(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._kept.pop(key, None)

    def forget_where(self, stale: Callable[[Key], bool]) -> None:
        for key in [key for key in self._kept if stale(key)]:
            del self._kept[key]

"""What `now` is for a service: the wall clock, or the event-time watermark of a replay.

A replay of a shop's history (the demo replays CDNOW's 1997-98) means nothing on the wall
clock: every customer lapsed decades ago, and every reminder is long overdue. With
`EventTimeClock`, `now` is the latest business time the service has read. Why a watermark and
not a simulated clock (an instant to start from, running N times faster): a replay's pace is set
by whoever sends it and by how fast the stack keeps up, neither of which a speed factor knows. A
simulated clock that runs ahead of the events acts on things whose next events are still in
flight; one that runs behind acts late; and it keeps running after the replay ends.

Read from several partitions, a service reads them at different paces: the latest time read on
a fast partition may be hours ahead of a slow one whose events (an order that ends a checkout
reminder) are still to come. So each source (topic partition) keeps its own latest time and,
while any source still has records to read (`unread`, from the consumer after each fetch), `now`
is the lowest latest time among those: the low watermark, as stream processors keep it. A source
with nothing left to read does not hold the others back (the end of a replay, a quiet
partition); when none has, everything has been read and `now` is the latest time of all.

The watermark never goes backwards and never passes the wall clock (a timestamp from the future
does not jump everything ahead). It is per process, moved only by the events the service
chooses to tell it about, and not kept across restarts: until the first event, `now` is
`BEFORE_ANY_EVENT`. Each service says what moves it and what that means for it (the segmenter's
`adapters/clocks.py`, the messenger's `bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import datetime, timezone

BEFORE_ANY_EVENT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class EventTimeClock:
    """Call it for `now`; tell it every event's business time with `saw` and, read from
    partitions, which of them still have records to read with `unread`."""

    def __init__(self, wall: Callable[[], datetime] = utc_now) -> None:
        self._wall = wall
        self._latest: dict[Hashable, datetime] = {}  # source: its latest time read
        self._unread: frozenset[Hashable] = frozenset()
        self._now = BEFORE_ANY_EVENT

    def saw(self, at: datetime, source: Hashable = None) -> None:
        at = min(at, self._wall())
        known = self._latest.get(source)
        self._latest[source] = at if known is None or at > known else known
        self._advance()

    def unread(self, sources: Iterable[Hashable]) -> None:
        """The sources that still have records to read (a source never read yet holds `now`
        where it is: its times are unknown)."""
        self._unread = frozenset(sources)
        self._advance()

    def __call__(self) -> datetime:
        return self._now

    def _advance(self) -> None:
        if not self._latest:
            return
        behind = [self._latest.get(source) for source in self._unread]
        if None in behind:
            return
        low = min(behind) if behind else max(self._latest.values())  # type: ignore[type-var]
        if low > self._now:
            self._now = low

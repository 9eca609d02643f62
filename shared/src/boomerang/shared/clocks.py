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
reminder) are still to come. So each source (topic partition) keeps its own latest time and
`now` is the lowest of them: the low watermark, as stream processors keep it. A source that has
sent nothing for `idle_after` (wall time) is left out, or a partition with no more events (the
end of a replay, a quiet shop) would hold everything back; when every source is idle, all has
been read and `now` is the latest of them.

The watermark never goes backwards and never passes the wall clock (a timestamp from the future
does not jump everything ahead). It is per process, moved only by the events the service
chooses to tell it about, and not kept across restarts: until the first event, `now` is
`BEFORE_ANY_EVENT`. Each service says what moves it and what that means for it (the segmenter's
`adapters/clocks.py`, the messenger's `bootstrap`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from datetime import datetime, timezone

BEFORE_ANY_EVENT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class EventTimeClock:
    """Call it for `now`; tell it every event's business time with `saw` (and, read from more
    than one partition, where it came from)."""

    def __init__(
        self,
        wall: Callable[[], datetime] = utc_now,
        *,
        idle_after: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._idle_after = idle_after
        self._monotonic = monotonic
        self._latest: dict[Hashable, tuple[datetime, float]] = {}  # source: (its latest time, read at)
        self._now = BEFORE_ANY_EVENT

    def saw(self, at: datetime, source: Hashable = None) -> None:
        at = min(at, self._wall())
        known = self._latest.get(source)
        self._latest[source] = (max(at, known[0]) if known else at, self._monotonic())

    def __call__(self) -> datetime:
        if self._latest:
            read_since = self._monotonic() - self._idle_after
            active = [latest for latest, read_at in self._latest.values() if read_at >= read_since]
            low = min(active) if active else max(latest for latest, _ in self._latest.values())
            if low > self._now:
                self._now = low
        return self._now

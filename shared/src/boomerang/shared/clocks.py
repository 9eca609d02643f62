"""What `now` is for a service: the wall clock, or the event-time watermark of a replay.

A replay of a shop's history (the demo replays CDNOW's 1997-98) means nothing on the wall
clock: every customer lapsed decades ago, and every reminder is long overdue. With
`EventTimeClock`, `now` is the latest business time the service has read. Why a watermark and
not a simulated clock (an instant to start from, running N times faster): a replay's pace is set
by whoever sends it and by how fast the stack keeps up, neither of which a speed factor knows. A
simulated clock that runs ahead of the events acts on things whose next events are still in
flight; one that runs behind acts late; and it keeps running after the replay ends.

The watermark never goes backwards and never passes the wall clock (a timestamp from the future
does not jump everything ahead). It is per process, moved only by the events the service
chooses to tell it about, and not kept across restarts: until the first event, `now` is
`BEFORE_ANY_EVENT`. Each service says what moves it and what that means for it (the segmenter's
`adapters/clocks.py`, the messenger's `bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

BEFORE_ANY_EVENT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class EventTimeClock:
    """Call it for `now`; tell it every event's business time with `saw`."""

    def __init__(self, wall: Callable[[], datetime] = utc_now) -> None:
        self._wall = wall
        self._now = BEFORE_ANY_EVENT

    def saw(self, at: datetime) -> None:
        at = min(at, self._wall())
        if at > self._now:
            self._now = at

    def __call__(self) -> datetime:
        return self._now

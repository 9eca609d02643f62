"""What `now` is for the worker: the wall clock, or the event-time watermark of a replay
(`boomerang.shared.clocks`, which says why a watermark and not a simulated clock).

For the segmenter: a simulated clock that runs ahead of the events marks customers lapsed
whose next orders are still in flight (they then "come back" as reactivated); one that runs
behind leaves them in stages they left long ago; and it keeps running after the replay ends, so
the sizes a summary reads depend on when it reads them. The watermark is "now" as far as the
events go: the latest business time read, so the sweep moves exactly the customers whose horizon
the history has passed, and after the replay `now` stays at the history's end.

Limits of the watermark (BOOMERANG_SEGMENTER_CLOCK=event-time):
- per worker: each worker's `now` is the latest time among the events of its own partitions.
- it advances only with the shop's own events (commerce.events.v1): while none arrive, time
  stands still (nobody lapses); a live shop wants the wall clock. Feedback does not move it: it
  answers messages sent now, so in a replay of old history it carries today's dates (a click
  still counts as engagement, at its own time, for the customer who clicked).
- never backwards, and never past the wall clock (a timestamp from the future does not jump
  every customer ahead).
- within a worker, a partition that lags the others (the newest event of one partition is
  days ahead of another's backlog) is swept at the newer time; its late events are then judged
  at that time (`stages.advance` never goes back), which can publish a change that the late
  event undoes. A replay sent in time order keeps that lag to seconds of processing.
- not kept across restarts: until the first event after a start, `now` is `BEFORE_ANY_EVENT`,
  at which nothing is due and no customer has an order to fit a model on.
"""

from boomerang.shared.clocks import BEFORE_ANY_EVENT, EventTimeClock, utc_now

__all__ = ["BEFORE_ANY_EVENT", "EventTimeClock", "utc_now"]

"""Pure segmentation logic: customer state, segments and the rules that move customers between them.

- `model`: the per-customer state and the segments;
- `facts`: how an event changes the facts (orders, net revenue, visits, engagement, ...);
- `lifecycle`: `step` (one event) and `sweep` (time alone), what the worker runs: facts, then
  the store's policy through `stages.advance`;
- `policy`: the per-store lifecycle policy (schema, merge, validation);
- `stages`: the state machine over that policy (`advance`, `decide`, `next_change_at`);
- `scoring`: RFM, CLV and the predictive models; `scorecard`: a store's model fitted on
  customer states and applied to one customer.
"""

from boomerang.segmenter.domain.model import (
    CustomerState,
    Dimension,
    LineItem,
    OrderRecord,
    Segment,
    SegmentPolicy,
    SegmentTransition,
)

__all__ = [
    "CustomerState",
    "Dimension",
    "LineItem",
    "OrderRecord",
    "Segment",
    "SegmentPolicy",
    "SegmentTransition",
]

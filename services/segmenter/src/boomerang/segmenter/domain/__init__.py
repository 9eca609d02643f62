"""Pure segmentation logic: customer state, segments and the rules that move customers between them."""

from boomerang.segmenter.domain.lifecycle import apply
from boomerang.segmenter.domain.model import CustomerState, Dimension, Segment, SegmentPolicy, SegmentTransition

__all__ = ["CustomerState", "Dimension", "Segment", "SegmentPolicy", "SegmentTransition", "apply"]

"""Boomerang segmenter: per-customer state, lifecycle segments and scores on the stream."""

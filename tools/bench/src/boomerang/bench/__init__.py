"""Boomerang benchmarks: figures reported as ratios against limits measured in the same run."""

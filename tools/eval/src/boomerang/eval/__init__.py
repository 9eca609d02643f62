"""Accuracy evaluations of Boomerang's models on public data."""

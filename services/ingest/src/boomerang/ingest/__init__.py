"""Boomerang ingest: Segment-spec event APIs into Kafka, answered only after Kafka acknowledged."""

"""Boomerang's shared contract: events, Kafka helpers, settings, metrics, logging, errors."""

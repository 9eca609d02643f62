"""Boomerang's dev stack: local Kafka and PostgreSQL, the process supervisor, the demo."""

"""HTTP API, CLI."""

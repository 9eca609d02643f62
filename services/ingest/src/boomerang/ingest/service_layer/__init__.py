"""Use cases: authenticate a write key, ingest calls, administer stores. I/O only through ports."""

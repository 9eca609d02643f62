"""Pure ingest logic: Segment messages in, typed envelopes or rejections out. No I/O, no clock."""

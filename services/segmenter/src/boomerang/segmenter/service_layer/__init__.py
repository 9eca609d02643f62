"""Use cases of the segmenter, written against ports so tests can fake the outside world."""

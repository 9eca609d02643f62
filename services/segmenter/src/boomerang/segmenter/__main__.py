"""`python -m boomerang.segmenter worker` is `boomerang-segmenter worker`."""

from boomerang.segmenter.entrypoints.cli import main

main()

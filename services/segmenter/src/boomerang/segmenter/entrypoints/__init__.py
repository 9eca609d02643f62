"""How the segmenter is run: the faust app and its web views, and the CLI."""

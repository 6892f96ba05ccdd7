"""The ``promptrail`` command line: show, tail, stats, serve."""

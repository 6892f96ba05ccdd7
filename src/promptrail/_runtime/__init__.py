"""Process-wide runtime: state and settings, ids, internal errors, fork hooks, counters.

The lowest layer: it imports nothing else from promptrail.
"""

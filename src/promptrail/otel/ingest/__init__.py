"""Spans in: OpenTelemetry spans become promptrail logs, one module per span dialect.

``_processor`` holds :class:`GenAiSpanProcessor` and :func:`records_from_spans` (the span tree,
parents and ids); each dialect module turns one span's attributes into a record body.
"""

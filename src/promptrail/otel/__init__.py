"""OpenTelemetry: the bridge out (logs as spans) and the ingest in (spans as logs)."""

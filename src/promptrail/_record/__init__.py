"""The log record: its models, value conversion and encoding, version ids."""

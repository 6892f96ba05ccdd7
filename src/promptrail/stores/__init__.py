"""Stores that the receiver, the web page and the CLI read and write through."""

"""Instrumentation of LLM SDK clients: ``instrument_openai()``, ``instrument_anthropic()``."""

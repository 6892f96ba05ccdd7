"""Processors and the global pipeline: ``configure``, ``flush``, ``shutdown``, ``stats``."""

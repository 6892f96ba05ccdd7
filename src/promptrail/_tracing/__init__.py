"""The log in progress: decorators, ``trace()``, the current log, stream proxies, sampling."""

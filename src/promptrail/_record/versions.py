"""Prompt version ids: a stable hash of a prompt's details.

Two logs belong to the same prompt version when their ``prompt`` details (model, provider,
endpoint, template, parameters, tools) are equal. The id is the SHA-256 of the details as
canonical JSON (sorted keys, no whitespace, unset fields left out), so it is the same in every
process and on every machine, and any change to a detail gives a new id. Python's ``hash()`` is
never used: it is salted per process.
"""

from __future__ import annotations

import hashlib
import json

from promptrail._record.models import PromptKernel

__all__ = ["VERSION_PREFIX", "version_id"]

VERSION_PREFIX = "pv_"


def version_id(prompt: PromptKernel) -> str:
    """Return the version id of ``prompt``: ``"pv_"`` and 32 hex digits of its SHA-256."""
    details = prompt.model_dump(mode="json", exclude_none=True)
    text = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return VERSION_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

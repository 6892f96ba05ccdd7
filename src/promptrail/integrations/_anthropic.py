"""``instrument_anthropic()``: trace every Anthropic SDK call, however the function is written."""

from __future__ import annotations

from typing import Any

from promptrail.integrations._patching import Instrumentor, Target

__all__ = ["instrument_anthropic", "uninstrument_anthropic"]

_MESSAGES = "anthropic.resources.messages.messages"

_INSTRUMENTOR = Instrumentor(
    "anthropic",
    "anthropic",
    (
        Target(_MESSAGES, "Messages", "create", "messages.create", ("messages",), False),
        Target(_MESSAGES, "Messages", "stream", "messages.stream", ("messages",), False),
        Target(_MESSAGES, "AsyncMessages", "create", "messages.create", ("messages",), True),
        Target(_MESSAGES, "AsyncMessages", "stream", "messages.stream", ("messages",), False),
    ),
)


def instrument_anthropic(client: Any = None, *, path: str | None = None) -> None:
    """Log every Anthropic SDK call: ``messages.create`` and ``messages.stream(...)``.

    Sync and async, streamed or not. Where each call's log goes, and which fields it fills,
    is as for :func:`promptrail.instrument_openai`; ``system=`` is recorded as the system
    message. The default path is ``anthropic/<operation>`` (``anthropic/messages.create``).

    Args:
        client: An ``Anthropic``/``AsyncAnthropic`` client to instrument alone; default: every
            client.
        path: The path of the calls' own logs.

    Raises:
        ConfigurationError: If the ``anthropic`` package is not installed, ``client`` is not an
            Anthropic client, or ``path`` is empty.

    .. versionadded:: 0.2.0
    """
    _INSTRUMENTOR.instrument(client, path=path)


def uninstrument_anthropic() -> None:
    """Undo :func:`instrument_anthropic`.

    .. versionadded:: 0.2.0
    """
    _INSTRUMENTOR.uninstrument()

"""``instrument_ollama()``, ``instrument_mistral()``, ``instrument_litellm()``.

The same patching as :func:`promptrail.instrument_openai`, for more SDKs: each call completes the
enclosing ``@log_prompt`` log that has made no LLM call, or is a ``prompt`` log of its own at
``<provider>/<operation>``. Streams keep the SDK's own API.
"""

from __future__ import annotations

from typing import Any

from promptrail.integrations._patching import Instrumentor, Target

__all__ = [
    "instrument_litellm",
    "instrument_mistral",
    "instrument_ollama",
    "uninstrument_litellm",
    "uninstrument_mistral",
    "uninstrument_ollama",
]

_OLLAMA = Instrumentor(
    "ollama",
    "ollama",
    tuple(
        Target("ollama._client", prefix + "Client", method, method, (), prefix == "Async")
        for prefix in ("", "Async")
        for method in ("chat", "generate")
    ),
)

_MISTRAL = Instrumentor(
    "mistral",
    "mistralai",
    tuple(
        Target("mistralai.client.chat", "Chat", method, f"chat.{method}", ("chat",), is_async)
        for method, is_async in (
            ("complete", False),
            ("stream", False),
            ("complete_async", True),
            ("stream_async", True),
        )
    ),
)

_LITELLM = Instrumentor(
    "litellm",
    "litellm",
    (
        Target("litellm", "", "completion", "completion", (), False),
        Target("litellm", "", "acompletion", "completion", (), True),
    ),
)


def instrument_ollama(client: Any = None, *, path: str | None = None) -> None:
    """Log every Ollama ``chat`` and ``generate`` call (sync, async, streamed or not).

    Tokens are Ollama's ``prompt_eval_count`` and ``eval_count``; ``options`` (``temperature``,
    ``num_predict``, ...) are the prompt's parameters. Otherwise as
    :func:`promptrail.instrument_openai` (default path ``ollama/chat``).

    .. versionadded:: 0.2.0
    """
    _OLLAMA.instrument(client, path=path)


def uninstrument_ollama() -> None:
    """Undo :func:`instrument_ollama`.

    .. versionadded:: 0.2.0
    """
    _OLLAMA.uninstrument()


def instrument_mistral(client: Any = None, *, path: str | None = None) -> None:
    """Log every Mistral ``chat.complete``/``chat.stream`` call, and their async forms.

    As :func:`promptrail.instrument_openai` (default path ``mistral/chat.complete``).

    .. versionadded:: 0.2.0
    """
    _MISTRAL.instrument(client, path=path)


def uninstrument_mistral() -> None:
    """Undo :func:`instrument_mistral`.

    .. versionadded:: 0.2.0
    """
    _MISTRAL.uninstrument()


def instrument_litellm(*, path: str | None = None) -> None:
    """Log every ``litellm.completion``/``litellm.acompletion`` call, streamed or not.

    The provider LiteLLM routed the call to is the log's ``prompt.provider``. Code that imported
    the functions themselves before this call (``from litellm import completion``) keeps the
    original: call them as ``litellm.completion(...)``.

    .. versionadded:: 0.2.0
    """
    _LITELLM.instrument(None, path=path)


def uninstrument_litellm() -> None:
    """Undo :func:`instrument_litellm`.

    .. versionadded:: 0.2.0
    """
    _LITELLM.uninstrument()

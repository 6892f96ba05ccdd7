"""Instrumenting more SDKs: Gemini, Ollama, Mistral and LiteLLM.

The same patching as :func:`promptrail.instrument_openai`, for more SDKs: each call completes the
enclosing ``@log_prompt`` log that has made no LLM call, or is a ``prompt`` log of its own at
``<provider>/<operation>``. Streams keep the SDK's own API.
"""

from __future__ import annotations

from typing import Any

from promptrail.integrations._patching import Instrumentor, Target

__all__ = [
    "instrument_gemini",
    "instrument_litellm",
    "instrument_mistral",
    "instrument_ollama",
    "uninstrument_gemini",
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
        Target("mistralai.client.chat", "Chat", method, f"chat.{operation}", ("chat",), is_async)
        for method, operation, is_async in (
            ("complete", "complete", False),
            ("stream", "stream", False),
            ("complete_async", "complete", True),  # one path for the sync and async calls
            ("stream_async", "stream", True),
        )
    ),
)

_GEMINI = Instrumentor(
    "gemini",
    "google-genai",
    (
        Target(
            "google.genai.models",
            "Models",
            "generate_content",
            "models.generate_content",
            ("models",),
            False,
        ),
        Target(
            "google.genai.models",
            "Models",
            "generate_content_stream",
            "models.generate_content_stream",
            ("models",),
            False,
        ),
        Target(
            "google.genai.models",
            "AsyncModels",
            "generate_content",
            "models.generate_content",
            ("aio", "models"),
            True,
        ),
        Target(
            "google.genai.models",
            "AsyncModels",
            "generate_content_stream",
            "models.generate_content_stream",
            ("aio", "models"),
            True,
        ),
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


def instrument_gemini(client: Any = None, *, path: str | None = None) -> None:
    """Log every Gemini ``models.generate_content``/``generate_content_stream`` call (google-genai).

    Sync (``client.models``) and async (``client.aio.models``). ``contents`` are the messages,
    ``config.system_instruction`` the system message, thinking is ``reasoning_tokens``, the
    model is the response's ``model_version``. Otherwise as :func:`promptrail.instrument_openai`
    (default path ``gemini/models.generate_content``).

    .. versionadded:: 0.2.0
    """
    _GEMINI.instrument(client, path=path)


def uninstrument_gemini() -> None:
    """Undo :func:`instrument_gemini`.

    .. versionadded:: 0.2.0
    """
    _GEMINI.uninstrument()


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

"""``instrument_openai()``: trace every OpenAI SDK call, whatever the function around it does."""

from __future__ import annotations

from typing import Any

from promptrail.integrations._patching import Instrumentor, Target

__all__ = ["instrument_openai", "uninstrument_openai"]

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"

# (module, resource from the client, operation prefix, methods); the async class is "Async" + name.
# ``stream`` returns its stream manager at once, in the async client too.
_RESOURCES = (
    (
        _CHAT,
        "Completions",
        ("chat", "completions"),
        "chat.completions",
        ("create", "parse", "stream"),
    ),
    (_RESPONSES, "Responses", ("responses",), "responses", ("create", "parse", "stream")),
    (_EMBEDDINGS, "Embeddings", ("embeddings",), "embeddings", ("create",)),
)

_INSTRUMENTOR = Instrumentor(
    "openai",
    "openai",
    tuple(
        Target(module, prefix + cls, method, f"{operation}.{method}", resource, is_async)
        for module, cls, resource, operation, methods in _RESOURCES
        for prefix in ("", "Async")
        for method in methods
        for is_async in [prefix == "Async" and method != "stream"]
    ),
)


def instrument_openai(client: Any = None, *, path: str | None = None) -> None:
    """Log every OpenAI SDK call: chat completions, the Responses API and embeddings.

    ``create``, ``parse`` and ``stream``, sync and async, streamed or not. Inside a
    ``@log_prompt`` function that has not yet made an LLM call, the call completes that
    function's log with the request as sent (messages, model, parameters, tools) and the
    response (output message, tokens, cost, finish reason); the decorator's options and
    ``update_current()`` still win. Anywhere else it is a ``prompt`` log of its own, a child of
    the current log, at ``path`` (default ``openai/<operation>``, e.g.
    ``openai/chat.completions.create``).

    Args:
        client: An ``OpenAI``/``AsyncOpenAI`` client to instrument alone; default: every client,
            made before or after this call.
        path: The path of the calls' own logs.

    Raises:
        ConfigurationError: If the ``openai`` package is not installed, ``client`` is not an
            OpenAI client, or ``path`` is empty.

    Calling it again changes nothing but the path. :func:`uninstrument_openai` undoes it.

    .. versionadded:: 0.2.0
    """
    _INSTRUMENTOR.instrument(client, path=path)


def uninstrument_openai() -> None:
    """Undo :func:`instrument_openai`, for every client and every instrumented client.

    .. versionadded:: 0.2.0
    """
    _INSTRUMENTOR.uninstrument()

"""``instrument_bedrock()``: trace AWS Bedrock Runtime calls made through boto3.

boto3 builds its client classes at run time, one per service, so there is no ``Converse``
method to patch on a class known in advance. Every operation of every botocore client goes
through ``BaseClient._make_api_call(operation_name, api_params)``: that is the one method
patched (or, for ``instrument_bedrock(client)``, set on that client alone), and only the
``bedrock-runtime`` service's ``Converse``, ``ConverseStream`` and ``InvokeModel`` are traced;
every other call goes straight through.

- ``converse``: the response dict is read in the worker (``providers._bedrock``).
- ``converse_stream``: the response's ``stream`` (a botocore ``EventStream``) is handed back
  wrapped in the same proxy as the other SDKs' streams; the log ends with the stream.
- ``invoke_model``: the response's ``body`` can be read only once, so it is read here, the
  caller gets a fresh ``StreamingBody`` over the same bytes, and the bytes are parsed in the
  worker (Anthropic-on-Bedrock bodies are read as Anthropic messages).

Errors (botocore's ``ClientError``) are recorded on the log and re-raised unchanged.
"""

from __future__ import annotations

import importlib
import io
import threading
import weakref
from typing import Any

import wrapt

from promptrail._tracing.sdk_calls import sdk_spec
from promptrail._tracing.streams import STREAM_KINDS, wrapper_for
from promptrail.exceptions import ConfigurationError
from promptrail.integrations._patching import Target, _Patch
from promptrail.providers._bedrock import PROVIDER, InvokeModelResponse

__all__ = ["instrument_bedrock", "uninstrument_bedrock"]

_SERVICE = "bedrock-runtime"
_OPERATIONS = {
    "Converse": "converse",
    "ConverseStream": "converse_stream",
    "InvokeModel": "invoke_model",
}
_METHOD = "_make_api_call"


def _service(client: Any) -> str | None:
    try:
        return str(client.meta.service_model.service_name)
    except AttributeError:
        return None


class _Calls:
    """The patches of the traced operations; one per instrumentation (global or a client's)."""

    def __init__(self, path: str | None) -> None:
        self.patches: dict[str, _Patch] = {}
        self.set_path(path)

    def set_path(self, path: str | None) -> None:
        for operation, name in _OPERATIONS.items():
            spec = sdk_spec(path or f"{PROVIDER}/{name}", provider=PROVIDER)
            patch = self.patches.get(operation)
            if patch is None:
                target = Target("botocore.client", "BaseClient", _METHOD, name, (), False)
                self.patches[operation] = _Patch(target, spec)
            else:
                patch.spec = spec

    def __call__(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if kwargs or len(args) != 2 or not isinstance(args[1], dict):
            return wrapped(*args, **kwargs)
        operation, params = args
        patch = self.patches.get(operation)
        if instance is None:  # a client instrumented alone: the bound method's owner
            instance = getattr(wrapped, "__self__", None)
        if patch is None or _service(instance) != _SERVICE:
            return wrapped(*args, **kwargs)
        if operation == "ConverseStream":
            return _converse_stream(patch, wrapped, params)
        if operation == "InvokeModel":
            return _invoke_model(patch, wrapped, params)

        def converse(**sent: Any) -> Any:
            return wrapped(operation, sent)

        return patch(converse, None, (), params)


class ConverseStreamResponse(dict):  # type: ignore[type-arg]
    """A ConverseStream response (a dict): returned from a decorated function, it is a stream.

    The decorated function's log then ends with the response's ``stream``, as when a function
    returns another SDK's stream.
    """

    __slots__ = ()


def _wrap_response(st: Any, log: Any, response: ConverseStreamResponse) -> Any:
    stream = response.get("stream")
    wrap = None if stream is None else wrapper_for(type(stream))
    if wrap is None:
        return response  # not a stream after all: the log ends with the dict, as for others
    response["stream"] = wrap(st, log, stream)
    return response


STREAM_KINDS[ConverseStreamResponse] = _wrap_response


def _converse_stream(patch: _Patch, wrapped: Any, params: dict[str, Any]) -> Any:
    """The response with its ``stream`` wrapped: the log ends when the stream does."""
    responses: list[Any] = []

    def call(**sent: Any) -> Any:
        response = wrapped("ConverseStream", sent)
        responses.append(response)
        return response.get("stream") if isinstance(response, dict) else None

    stream = patch(call, None, (), params)
    response = responses[0]
    if type(response) is dict and stream is not None:
        response = ConverseStreamResponse(response)
        response["stream"] = stream
    return response


def _invoke_model(patch: _Patch, wrapped: Any, params: dict[str, Any]) -> Any:
    """The response with a fresh body over the bytes read once (and recorded)."""
    responses: list[Any] = []

    def call(**sent: Any) -> Any:
        response = wrapped("InvokeModel", sent)
        responses.append(response)
        body = response.get("body") if isinstance(response, dict) else None
        if body is None or not callable(getattr(body, "read", None)):
            return response
        streaming_body = importlib.import_module("botocore.response").StreamingBody
        data = body.read()
        response["body"] = streaming_body(io.BytesIO(data), len(data))
        return InvokeModelResponse(data, response.get("contentType"))

    patch(call, None, (), params)
    return responses[0]


_lock = threading.Lock()
_state: dict[str, Any] = {}  # "original": BaseClient's own _make_api_call, "calls": _Calls
_clients: weakref.WeakKeyDictionary[Any, _Calls] = weakref.WeakKeyDictionary()


def _base_client() -> Any:
    try:
        module = importlib.import_module("botocore.client")
    except ImportError as exc:
        msg = "instrument_bedrock() needs the 'boto3' package (pip install boto3)"
        raise ConfigurationError(msg) from exc
    return module.BaseClient


def instrument_bedrock(client: Any = None, *, path: str | None = None) -> None:
    """Log every AWS Bedrock Runtime ``converse``, ``converse_stream`` and ``invoke_model`` call.

    boto3's clients are made at run time, so botocore's ``BaseClient._make_api_call`` is patched
    (or set on ``client`` alone); only the ``bedrock-runtime`` service's three operations are
    traced. ``system``, ``messages`` (tool uses as tool calls, tool results as tool messages),
    ``toolConfig`` and ``inferenceConfig`` are the request; the model is ``modelId``; tokens
    include the cache reads and writes. ``invoke_model`` bodies of Anthropic models are read
    as Anthropic messages, and the caller still gets a readable body. Otherwise as
    :func:`promptrail.instrument_openai` (default path ``bedrock/converse``,
    ``bedrock/converse_stream``, ``bedrock/invoke_model``).

    Args:
        client: A ``boto3.client("bedrock-runtime")`` to instrument alone; default: every one.
        path: The path of the calls' own logs.

    Raises:
        ConfigurationError: If ``boto3`` is not installed, ``client`` is not a Bedrock Runtime
            client, or ``path`` is empty.

    .. versionadded:: 0.2.0
    """
    if path is not None and (not isinstance(path, str) or not path):
        msg = f"path must be a non-empty string, not {path!r}"
        raise ConfigurationError(msg)
    base = _base_client()
    with _lock:
        if client is None:
            if "calls" in _state:  # idempotent; a new path applies from now on
                _state["calls"].set_path(path)
                return
            original = vars(base)[_METHOD]
            calls = _Calls(path)
            setattr(base, _METHOD, wrapt.FunctionWrapper(original, calls))
            _state.update(original=original, calls=calls)
            return
        if not isinstance(client, base) or _service(client) != _SERVICE:
            msg = f"{type(client).__name__} is not a boto3 'bedrock-runtime' client"
            raise ConfigurationError(msg)
        found = _clients.get(client)
        if found is not None:
            found.set_path(path)
            return
        function = _state.get("original") or vars(base)[_METHOD]
        calls = _Calls(path)
        client.__dict__[_METHOD] = wrapt.FunctionWrapper(function.__get__(client, base), calls)
        _clients[client] = calls


def uninstrument_bedrock() -> None:
    """Undo :func:`instrument_bedrock` (every client's and the global patch).

    .. versionadded:: 0.2.0
    """
    with _lock:
        original = _state.pop("original", None)
        _state.pop("calls", None)
        if original is not None:
            setattr(_base_client(), _METHOD, original)
        for client in list(_clients):
            client.__dict__.pop(_METHOD, None)
        _clients.clear()

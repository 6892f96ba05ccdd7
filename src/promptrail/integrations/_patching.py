"""Patching an SDK's resource methods with wrapt, for every client or for one.

An :class:`Instrumentor` knows one SDK's methods (:class:`Target`). ``instrument()`` without a
client replaces each method on its class with a ``wrapt.FunctionWrapper`` (every client, sync and
async, made before or after, is traced); with a client, it sets the wrapper on that client's
resource objects only (``client.chat.completions``), around the class's original function, so a
client is never traced twice. Both are idempotent and undone by ``uninstrument()``. The SDK is
imported only here, when instrumenting: importing promptrail never imports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import threading
import weakref
from typing import Any

import wrapt

from promptrail._runtime.state import STATE
from promptrail._tracing.context import CURRENT, IN_SDK_REQUEST
from promptrail._tracing.sdk_calls import complete_async, complete_sync, completes, sdk_spec
from promptrail._tracing.spec import CallSpec
from promptrail._tracing.wrappers import async_wrapper, sync_wrapper
from promptrail.exceptions import ConfigurationError

__all__ = ["Instrumentor", "Target"]


@dataclasses.dataclass(frozen=True)
class Target:
    """One SDK method to trace.

    Attributes:
        module: The module defining the resource class.
        cls: The resource class's name (``Completions``, ``AsyncMessages``); empty for a
            module-level function (``litellm.completion``).
        method: The method (``create``, ``parse``, ``stream``).
        operation: The operation in the default path (``chat.completions.create``).
        resource: Attribute names from a client to its resource object (``("chat",
            "completions")``).
        is_async: Whether the method returns an awaitable (the async clients' ``create``).
    """

    module: str
    cls: str
    method: str
    operation: str
    resource: tuple[str, ...]
    is_async: bool


_HOSTS = (
    ("openai.azure.com", "azure"),
    ("api.groq.com", "groq"),
    ("api.deepseek.com", "deepseek"),
    ("api.together.xyz", "together"),
    ("api.fireworks.ai", "fireworks"),
    ("openrouter.ai", "openrouter"),
    ("api.mistral.ai", "mistral"),
    ("generativelanguage.googleapis.com", "google"),
    ("api.x.ai", "xai"),
    ("api.cerebras.ai", "cerebras"),
    ("api.perplexity.ai", "perplexity"),
)
"""OpenAI-compatible servers told apart by their host (anything else: the SDK's own name)."""


def provider_of_client(resource: Any) -> str | None:
    """The provider an OpenAI-style client talks to, from its base URL, when it can be told."""
    client = getattr(resource, "_client", resource)
    base_url = str(getattr(client, "base_url", "") or "")
    host = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    for suffix, provider in _HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return provider
    return None


class _Patch:
    """The wrapper of one target; its spec (and so its path) can change on re-instrumenting.

    Outside a prompt log it waits to complete, the call is traced by the decorators' own
    wrappers (the fast path); inside one, :func:`complete_sync`/:func:`complete_async`. A
    client whose base URL names another provider (Azure, Groq, DeepSeek, ...) gets a spec that
    records it.
    """

    def __init__(self, target: Target, spec: CallSpec) -> None:
        self._is_async = target.is_async
        self._providers: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
        self.spec = spec

    @property
    def spec(self) -> CallSpec:
        """The spec of this method's logs."""
        return self._spec

    @spec.setter
    def spec(self, spec: CallSpec) -> None:
        self._spec = spec
        self._own = self._wrapper(spec)
        self._by_provider: dict[str, tuple[CallSpec, Any]] = {}

    def _wrapper(self, spec: CallSpec) -> Any:
        return async_wrapper(spec) if self._is_async else sync_wrapper(spec)

    def _for(self, instance: Any) -> tuple[CallSpec, Any]:
        provider = None
        if instance is not None:
            try:  # a resource's client and base URL do not change: read them once
                provider = self._providers[instance]
            except (KeyError, TypeError):
                provider = provider_of_client(instance)
                with contextlib.suppress(TypeError):  # not weak-referenceable: not remembered
                    self._providers[instance] = provider
        if provider is None:
            return self._spec, self._own
        found = self._by_provider.get(provider)
        if found is None:
            spec = sdk_spec(self._spec.path, provider=provider)
            found = self._by_provider[provider] = (spec, self._wrapper(spec))
        return found

    def __call__(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if IN_SDK_REQUEST.get():  # a logged stream helper's own request: logged once, there
            return wrapped(*args, **kwargs)
        if instance is None:  # a client instrumented alone: the bound method's owner
            instance = getattr(wrapped, "__self__", None)
        spec, own = self._for(instance)
        current = CURRENT.get()
        if current is not None and STATE.enabled and completes(current):
            complete = complete_async if self._is_async else complete_sync
            return complete(STATE, spec, current, wrapped, args, kwargs)
        return own(wrapped, None, args, kwargs)


class Instrumentor:
    """Instruments one SDK's :class:`Target` methods.

    Args:
        provider: The provider's name, the first segment of the default paths (``openai``).
        package: The package to import (``openai``), named in the error when it is missing.
        targets: The methods to trace.
    """

    def __init__(self, provider: str, package: str, targets: tuple[Target, ...]) -> None:
        self._provider = provider
        self._package = package
        self._targets = targets
        self._lock = threading.Lock()
        # (class or module, method) -> (its own function, our patch)
        self._classes: dict[tuple[Any, str], tuple[Any, _Patch]] = {}
        # resource objects of instrumented clients -> {method: patch}
        self._clients: weakref.WeakKeyDictionary[Any, dict[str, _Patch]] = (
            weakref.WeakKeyDictionary()
        )

    def _spec(self, target: Target, path: str | None) -> CallSpec:
        return sdk_spec(path or f"{self._provider}/{target.operation}")

    def _classes_of(self) -> list[tuple[Target, Any]]:
        found: list[tuple[Target, Any]] = []
        for target in self._targets:
            try:
                module = importlib.import_module(target.module)
            except ImportError as exc:
                msg = (
                    f"instrument_{self._provider}() needs the {self._package!r} package "
                    f"(pip install {self._package})"
                )
                raise ConfigurationError(msg) from exc
            owner = getattr(module, target.cls, None) if target.cls else module
            if owner is not None and target.method in vars(owner):
                found.append((target, owner))
        return found

    def instrument(self, client: Any = None, *, path: str | None = None) -> None:
        """Trace the targets' calls: of every client (``client=None``) or of ``client`` only."""
        if path is not None and (not isinstance(path, str) or not path):
            msg = f"path must be a non-empty string, not {path!r}"
            raise ConfigurationError(msg)
        classes = self._classes_of()
        with self._lock:
            if client is None:
                for target, cls in classes:
                    key = (cls, target.method)
                    if key in self._classes:  # idempotent; a new path applies from now on
                        self._classes[key][1].spec = self._spec(target, path)
                        continue
                    original = vars(cls)[target.method]
                    patch = _Patch(target, self._spec(target, path))
                    setattr(cls, target.method, wrapt.FunctionWrapper(original, patch))
                    self._classes[key] = (original, patch)
                return
            self._instrument_client(client, classes, path)

    def _instrument_client(
        self, client: Any, classes: list[tuple[Target, Any]], path: str | None
    ) -> None:
        matched = False
        for target, cls in classes:
            if not isinstance(cls, type):  # a module's function: there is no client
                continue
            resource: Any = client
            for name in target.resource:
                resource = getattr(resource, name, None)
            if not isinstance(resource, cls):
                continue
            matched = True
            patches = self._clients.setdefault(resource, {})
            if target.method in patches:
                patches[target.method].spec = self._spec(target, path)
                continue
            saved = self._classes.get((cls, target.method))
            function = saved[0] if saved is not None else vars(cls)[target.method]
            patch = _Patch(target, self._spec(target, path))
            bound = function.__get__(resource, cls)
            resource.__dict__[target.method] = wrapt.FunctionWrapper(bound, patch)
            patches[target.method] = patch
        if not matched:
            msg = f"{type(client).__name__} is not a {self._package} client"
            raise ConfigurationError(msg)

    def uninstrument(self) -> None:
        """Restore every patched method, on the classes and on instrumented clients."""
        with self._lock:
            for (cls, method), (original, _) in self._classes.items():
                setattr(cls, method, original)
            self._classes.clear()
            for resource, patches in list(self._clients.items()):
                for method in patches:
                    resource.__dict__.pop(method, None)
            self._clients.clear()

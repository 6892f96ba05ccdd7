"""``@log_prompt``, ``@log_tool`` and ``@log_flow``: the decorators, built on wrapt.

At decoration time the function's kind (sync, async, generator, async generator), its signature
and its default path are computed once into a :class:`CallSpec`, and a wrapper specialised for the
kind is chosen (``wrappers.py``). A plain synchronous function that is never bound (module-level
or local) gets a closure around that wrapper; everything else gets a wrapt proxy.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, cast, overload

import wrapt

from promptrail._record.models import LogKind
from promptrail._runtime.checks import is_flag, type_name
from promptrail._tracing.spec import CallSpec
from promptrail._tracing.wrappers import (
    Wrapper,
    async_generator_wrapper,
    async_wrapper,
    generator_wrapper,
    sync_wrapper,
)
from promptrail.exceptions import ConfigurationError
from promptrail.providers._tool_schema import tool_schema

__all__ = ["default_path", "log_flow", "log_prompt", "log_tool"]

P = ParamSpec("P")
R = TypeVar("R")


# -- wrapt subclasses that pickle by reference ----------------------------------------------


class _BoundTracedFunction(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]
    """A decorated function bound to an instance or class; pickles as ``getattr(obj, name)``."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        # wrapt's own record of what it is bound to: ``__self__`` is proxied and can be the
        # wrapped function's attribute (which promptrail sets to None on plain functions).
        owner: Any = getattr(self, "_self_instance")  # noqa: B009 - invisible to type checkers
        return getattr, (owner, getattr(self, "__name__"))  # noqa: B009


class _TracedFunction(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """The decorated function; pickles by reference like the plain function it replaces."""

    __bound_function_wrapper__ = _BoundTracedFunction

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A plain function pickles as "module.qualname"; the decorated one sits at that name.
        qualname: str = getattr(self, "__qualname__")  # noqa: B009
        return qualname


# -- decoration time ------------------------------------------------------------------------


def _unwrap_descriptor(obj: Any) -> Any:
    if isinstance(obj, (classmethod, staticmethod)):
        return obj.__func__
    return obj


def _main_name() -> str:
    """What ``__main__`` stands for: the module run with ``-m``, else the script's file name."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str) and name:
        return name.removesuffix(".__main__")
    file = getattr(main, "__file__", None)
    if isinstance(file, str) and file:
        return os.path.splitext(os.path.basename(file))[0] or "__main__"
    return "__main__"  # an interactive session


def default_path(func: Any) -> str:
    """Return ``module/qualname`` with dots as slashes and ``<locals>`` parts dropped.

    For a script (``python bot.py``) the module is the script's file name (``bot``), and for
    ``python -m pkg.bot`` the module's name, not ``__main__``. A ``functools.partial`` is named
    after its function, a callable object after its class.
    """
    while isinstance(func, functools.partial):
        func = func.func
    if not hasattr(func, "__qualname__") and not hasattr(func, "__name__"):
        func = type(func)  # a callable object: its class names it
    module: str = getattr(func, "__module__", None) or "unknown"
    if module == "__main__":
        module = _main_name()
    qualname: str = getattr(func, "__qualname__", None) or str(
        getattr(func, "__name__", "function")
    )
    parts = [p for p in qualname.split(".") if p != "<locals>"]
    return "/".join([*module.split("."), *parts])


def _in_class_body(func: types.FunctionType) -> bool:
    """Whether ``func`` was defined in a class body (and will be bound as a method)."""
    owner = func.__qualname__.rpartition(".")[0]
    return bool(owner) and not owner.endswith("<locals>")


def _traced_function(func: types.FunctionType, wrapper: Wrapper) -> Any:
    """The decorated form of a plain synchronous function: a closure, not a wrapt proxy.

    A function defined at module level or inside another function is never bound to an
    instance, so wrapt's descriptor machinery buys nothing there, and its call path (a C call
    into the Python wrapper plus a ``__self__`` lookup) costs about 1,200 interpreter
    instructions, ~7 % of a decorated call. The closure has the function's name, docstring,
    module, qualname (so it pickles by reference) and ``__wrapped__`` (so ``inspect.signature``
    sees the function's signature). Methods, classmethods, staticmethods, callables and the
    async and generator kinds keep the wrapt proxy.
    """

    def traced(*args: Any, **kwargs: Any) -> Any:
        return wrapper(func, None, args, kwargs)

    return functools.update_wrapper(traced, func)


def _decorate(func: Any, kind: LogKind, options: dict[str, Any]) -> Any:
    if isinstance(func, type):
        msg = (
            f"promptrail cannot decorate the class {func.__qualname__}; "
            "decorate its methods (or the function that calls the model) instead"
        )
        raise TypeError(msg)
    target = _unwrap_descriptor(func)
    if not callable(target):
        msg = f"promptrail decorates functions, not {type(func).__name__} objects"
        raise TypeError(msg)
    try:
        signature: inspect.Signature | None = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without a signature
        signature = None
    prompt = {k: v for k, v in (options.get("prompt") or {}).items() if v is not None}
    spec = CallSpec(
        path=options.get("path") or default_path(target),
        kind=kind,
        signature=signature,
        prompt=prompt or None,
        metadata=options.get("metadata"),
        capture_inputs=options.get("capture_inputs"),
        capture_output=options.get("capture_output"),
        capture_provider_payloads=options.get("capture_provider_payloads"),
        tool=tool_schema(target) if kind == "tool" else None,
    )
    if inspect.isasyncgenfunction(target):
        wrapper = async_generator_wrapper(spec)
    elif inspect.isgeneratorfunction(target):
        wrapper = generator_wrapper(spec)
    elif inspect.iscoroutinefunction(target):
        wrapper = async_wrapper(spec)
    else:
        wrapper = sync_wrapper(spec)
        if type(func) is types.FunctionType and not _in_class_body(func):
            return _traced_function(func, wrapper)
    if type(func) is types.FunctionType and "__self__" not in func.__dict__:
        # wrapt's FunctionWrapper.__call__ reads ``wrapped.__self__`` on every call (to spot
        # callables bound before wrapping). On a plain function that read raises and swallows an
        # AttributeError, about 0.6 µs, a third of the call budget. ``__self__ = None`` answers
        # it at once; wrapt's binding (decided by inspect.isfunction) is unchanged.
        func.__dict__["__self__"] = None
    return _TracedFunction(func, wrapper)


_TEXT_OPTIONS = ("path", "model", "provider", "endpoint")
_FLAG_OPTIONS = ("capture_inputs", "capture_output", "capture_provider_payloads")


def _check_options(options: dict[str, Any]) -> None:
    """Reject an option of the wrong type where the decorator is written, not on every call.

    Raises:
        ConfigurationError: Naming the option (a wrong type would otherwise make every log of
            the function fail to build, in the background).
    """
    given = {**options, **(options.get("prompt") or {})}
    for name, value in given.items():
        if value is None or name == "prompt":
            continue
        if name in _TEXT_OPTIONS:
            ok = isinstance(value, str)
            wanted = "a string"
        elif name in _FLAG_OPTIONS:
            ok = is_flag(value)
            wanted = "True, False or None"
        elif name == "metadata":
            ok = isinstance(value, Mapping)
            wanted = "a dict"
        else:  # template
            ok = isinstance(value, str | list | tuple)
            wanted = "a string or a list of messages"
        if not ok:
            msg = f"{name} must be {wanted}, not {type_name(value)}"
            raise ConfigurationError(msg)


def _apply(
    func: Callable[P, R] | None, kind: LogKind, options: dict[str, Any]
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate ``func`` now (bare decorator), or return the decorator (called with options)."""
    _check_options(options)
    if func is not None:
        return cast("Callable[P, R]", _decorate(func, kind, options))

    def decorator(fn: Callable[P, R]) -> Callable[P, R]:
        return cast("Callable[P, R]", _decorate(fn, kind, options))

    return decorator


@overload
def log_prompt(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def log_prompt(
    *,
    path: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    endpoint: str | None = None,
    template: str | list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def log_prompt(
    func: Callable[P, R] | None = None,
    /,
    *,
    path: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    endpoint: str | None = None,
    template: str | list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Log every call of the decorated function as a ``prompt`` log (an LLM call).

    Works on functions, ``async def`` functions, generators and async generators, and on methods,
    classmethods and staticmethods (put ``@log_prompt`` outside ``@classmethod``). The result, the
    exceptions and the signature of the function are unchanged; ``@log_prompt`` and
    ``@log_prompt()`` are the same.

    Args:
        func: The function, when used without parentheses.
        path: Where the log is filed, ``folder/name``; default ``module/qualname``.
        model: Default ``prompt.model`` (call arguments win).
        provider: Default ``prompt.provider``, e.g. ``"openai"``.
        endpoint: Default ``prompt.endpoint``, ``"chat"`` or ``"complete"``.
        template: Default ``prompt.template``.
        metadata: Metadata added to every log of this function.
        capture_inputs: False logs no arguments (no ``inputs``, no ``messages``); ``None``
            follows ``configure(capture_inputs=...)``.
        capture_output: False logs no result; ``None`` follows
            ``configure(capture_outputs=...)``.
        capture_provider_payloads: True records ``provider_request``/``provider_response``;
            ``None`` follows ``configure(capture_provider_payloads=...)`` (off by default).

    Raises:
        TypeError: At decoration time, when applied to a class or a non-callable.
        ConfigurationError: At decoration time, for an option of the wrong type.

    .. versionadded:: 0.1.0
    """
    options: dict[str, Any] = {
        "path": path,
        "metadata": metadata,
        "capture_inputs": capture_inputs,
        "capture_output": capture_output,
        "capture_provider_payloads": capture_provider_payloads,
        "prompt": {
            "model": model,
            "provider": provider,
            "endpoint": endpoint,
            "template": template,
        },
    }
    return _apply(func, "prompt", options)


@overload
def log_tool(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def log_tool(
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def log_tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Log every call of the decorated function as a ``tool`` log.

    Same behaviour and options as :func:`log_prompt`, for functions a model calls as tools.

    .. versionadded:: 0.1.0
    """
    options: dict[str, Any] = {
        "path": path,
        "metadata": metadata,
        "capture_inputs": capture_inputs,
        "capture_output": capture_output,
        "capture_provider_payloads": capture_provider_payloads,
    }
    return _apply(func, "tool", options)


@overload
def log_flow(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def log_flow(
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def log_flow(
    func: Callable[P, R] | None = None,
    /,
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Log every call of the decorated function as a ``flow`` log (a workflow or agent run).

    The decorator form of :func:`trace`: every log made inside the call nests under it.

    .. versionadded:: 0.1.0
    """
    options: dict[str, Any] = {
        "path": path,
        "metadata": metadata,
        "capture_inputs": capture_inputs,
        "capture_output": capture_output,
        "capture_provider_payloads": capture_provider_payloads,
    }
    return _apply(func, "flow", options)

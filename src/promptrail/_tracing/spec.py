"""What a decorated function's logs share: :class:`CallSpec`, computed once at decoration.

Also the argument binder: binding a call's arguments to parameter names is the worker's most
frequent step, and :class:`_Binder` does it for plain signatures without ``inspect``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from promptrail._record.models import LogKind

if TYPE_CHECKING:
    from promptrail._runtime.state import Settings

__all__ = ["CallSpec"]


class CallSpec:
    """What is known about a decorated function at decoration time.

    Computed once per decorated function: the log kind, the path, the signatures used to bind
    arguments to names (with and without the implicit ``self``/``cls``), and decorator defaults.
    """

    __slots__ = (
        "binder",
        "capture_inputs",
        "capture_output",
        "capture_provider_payloads",
        "instrumented",
        "kind",
        "metadata",
        "method_binder",
        "method_signature",
        "path",
        "prompt",
        "signature",
        "tool",
    )

    def __init__(
        self,
        *,
        path: str,
        kind: LogKind,
        signature: inspect.Signature | None,
        prompt: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        capture_inputs: bool | None = None,
        capture_output: bool | None = None,
        capture_provider_payloads: bool | None = None,
        tool: Mapping[str, Any] | None = None,
        instrumented: bool = False,
    ) -> None:
        self.path = path
        self.kind: LogKind = kind
        self.signature = signature
        self.method_signature = _drop_first(signature)
        self.binder = _Binder.of(signature)
        self.method_binder = _Binder.of(self.method_signature)
        self.prompt = dict(prompt) if prompt else None
        self.metadata = dict(metadata) if metadata else None
        # None: follow configure(capture_inputs=..., capture_outputs=..., ...).
        self.capture_inputs = capture_inputs
        self.capture_output = capture_output
        self.capture_provider_payloads = capture_provider_payloads
        self.tool = dict(tool) if tool else None
        # An instrumented SDK call: its arguments are the request as sent.
        self.instrumented = instrumented

    def inputs_on(self, settings: Settings) -> bool:
        """Whether this function's arguments are captured."""
        on = self.capture_inputs
        return settings.capture_inputs if on is None else on

    def output_on(self, settings: Settings) -> bool:
        """Whether this function's result is captured."""
        on = self.capture_output
        return settings.capture_outputs if on is None else on

    def payloads_on(self, settings: Settings) -> bool:
        """Whether the raw provider request and response are recorded."""
        on = self.capture_provider_payloads
        return settings.capture_provider_payloads if on is None else on


def _drop_first(sig: inspect.Signature | None) -> inspect.Signature | None:
    if sig is None:
        return None
    params = list(sig.parameters.values())
    if params and params[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return sig.replace(parameters=params[1:])
    return sig


_SIMPLE_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _Binder:
    """Binds arguments to parameter names like ``bind_partial`` + ``apply_defaults``, faster.

    Built at decoration time for signatures made only of ordinary and keyword-only parameters
    (no ``*args``, ``**kwargs`` or positional-only ones): binding is then a walk over the names.
    Calls it cannot bind exactly as :mod:`inspect` would (too many positional arguments, unknown
    or repeated keywords) return ``None``, and the caller falls back to ``inspect``.
    """

    __slots__ = ("defaults", "known", "names", "positional")

    def __init__(self, sig: inspect.Signature) -> None:
        params = list(sig.parameters.values())
        self.names = tuple(p.name for p in params)
        self.positional = tuple(
            p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        self.known = frozenset(self.names)
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}

    @classmethod
    def of(cls, sig: inspect.Signature | None) -> _Binder | None:
        if sig is None or any(p.kind not in _SIMPLE_KINDS for p in sig.parameters.values()):
            return None
        return cls(sig)

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return ``{name: value}`` in parameter order, or ``None`` to defer to ``inspect``."""
        if not args and kwargs and tuple(kwargs) == self.names:
            return dict(kwargs)  # every parameter by keyword, in order (the SDK-style call)
        n = len(args)
        positional = self.positional
        if n > len(positional):
            return None
        if kwargs:
            known = self.known
            for key in kwargs:
                if key not in known:
                    return None
            for name in positional[:n]:
                if name in kwargs:
                    return None
        defaults = self.defaults
        out: dict[str, Any] = {}
        for i, name in enumerate(self.names):
            if i < n:
                out[name] = args[i]
            elif name in kwargs:
                out[name] = kwargs[name]
            elif name in defaults:
                out[name] = defaults[name]
        return out

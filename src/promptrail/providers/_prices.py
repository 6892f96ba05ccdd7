"""Cost of a call in USD, from a per-million-token price table the user can extend.

The built-in table holds list prices of common OpenAI and Anthropic models, as published on the
providers' pricing pages on :data:`PRICES_AS_OF` (standard tier, no batch or regional discounts)
and not re-checked since. Prices change and new models appear: register the ones you pay with
:func:`register_price`, which also overrides built-in entries.

A model name matches an entry when it is the entry's name, or that name followed by a snapshot
suffix (a date such as ``-2024-08-06``/``-20250514``, ``-latest``, a ``-v2:0`` revision); a
provider prefix (``openai/``, ``anthropic.``) is ignored. When several entries match, the longest
wins. A model that matches no entry gets no cost at all: costs are never guessed from a similar
name (``claude-opus-4`` does not price ``claude-opus-4-6``).

``prompt_cost`` charges uncached prompt tokens at the input price, tokens read from the cache at
the cached-input price, and tokens written to the cache (Anthropic) at the cache-write price;
``output_cost`` charges output tokens (reasoning included) at the output price.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Any

from promptrail._runtime.locks import relock_after_fork

__all__ = ["PRICES_AS_OF", "Price", "costs", "price_for", "register_price"]

PRICES_AS_OF = "2025-11-24"
"""The date the built-in prices were taken from the providers' pricing pages."""


@dataclasses.dataclass(frozen=True)
class Price:
    """USD per million tokens for one model."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


def _anthropic(input: float, output: float) -> Price:
    # Anthropic bills cache reads at 0.1x and 5-minute cache writes at 1.25x the input price.
    return Price(input, output, round(input * 0.1, 6), round(input * 1.25, 6))


_BUILTIN: dict[str, Price] = {
    # OpenAI
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-2024-05-13": Price(5.00, 15.00),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00, 7.50),
    "o1-mini": Price(1.10, 4.40, 0.55),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    # Anthropic
    "claude-opus-4-5": _anthropic(5.00, 25.00),
    "claude-opus-4-1": _anthropic(15.00, 75.00),
    "claude-opus-4": _anthropic(15.00, 75.00),
    "claude-sonnet-4-5": _anthropic(3.00, 15.00),
    "claude-sonnet-4": _anthropic(3.00, 15.00),
    "claude-haiku-4-5": _anthropic(1.00, 5.00),
    "claude-3-7-sonnet": _anthropic(3.00, 15.00),
    "claude-3-5-sonnet": _anthropic(3.00, 15.00),
    "claude-3-5-haiku": _anthropic(0.80, 4.00),
    "claude-3-opus": _anthropic(15.00, 75.00),
    "claude-3-haiku": _anthropic(0.25, 1.25),
}

_lock = threading.Lock()
_prices: dict[str, Price] = dict(_BUILTIN)
_cache: dict[str, Price | None] = {}
# costs() of exact ints for a model name: the same few arguments come back call after call.
_costs: dict[tuple[str, int, int, int | None, int | None], tuple[float | None, float | None]] = {}
_INT_OR_NONE = frozenset({int, type(None)})
_generation = [0]  # bumped when prices change: a cost computed before is not remembered

_SUFFIX = re.compile(r"(?:\d{4}-?\d{2}-?\d{2}(?:-v\d+(?::\d+)?)?|latest|v\d+(?::\d+)?)")
_PREFIX = re.compile(r"^(?:[a-z0-9_-]+/|(?:us|eu|apac|global)\.)?(?:openai|anthropic)[./]")


def register_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    cache_write: float | None = None,
) -> None:
    """Set the price of ``model`` in USD per million tokens (overrides a built-in price).

    Dated snapshots of ``model`` (``model-2025-01-31``, ``model-20250131``) use the same price
    unless they are registered themselves.

    Args:
        model: The model name as the provider reports it, e.g. ``"gpt-4o"``.
        input: Price of a million prompt tokens.
        output: Price of a million output tokens (reasoning tokens included).
        cached_input: Price of a million prompt tokens read from the prompt cache; default: the
            input price.
        cache_write: Price of a million prompt tokens written to the prompt cache (Anthropic);
            default: the input price.

    Raises:
        ValueError: If a price is negative or ``model`` is empty.

    .. versionadded:: 0.1.0
    """
    prices = [input, output, cached_input, cache_write]
    if not model or any(p is not None and p < 0 for p in prices):
        msg = f"register_price needs a model name and non-negative prices, got {model!r}"
        raise ValueError(msg)
    with _lock:
        _prices[model.lower()] = Price(input, output, cached_input, cache_write)
        _prices_changed()


def unregister_price(model: str) -> None:
    """Forget a registered price (a built-in price comes back); for tests."""
    with _lock:
        _prices.pop(model.lower(), None)
        if model.lower() in _BUILTIN:
            _prices[model.lower()] = _BUILTIN[model.lower()]
        _prices_changed()


def _prices_changed() -> None:
    """Forget every looked-up price and computed cost (called holding ``_lock``)."""
    _cache.clear()
    _costs.clear()
    _generation[0] += 1


def price_for(model: str) -> Price | None:
    """Return the price entry matching ``model``, or ``None`` when none matches."""
    key = model.lower()
    try:
        return _cache[key]
    except KeyError:
        pass
    name = _PREFIX.sub("", key)
    best: str | None = None
    with _lock:
        for entry in _prices:
            matches = name == entry or (
                name.startswith(entry + "-") and _SUFFIX.fullmatch(name[len(entry) + 1 :])
            )
            if matches and (best is None or len(entry) > len(best)):
                best = entry
        price = None if best is None else _prices[best]
        if len(_cache) < 4096:
            _cache[key] = price
    return price


def costs(
    model: Any,
    prompt_tokens: Any,
    output_tokens: Any,
    cached_tokens: Any = None,
    cache_creation_tokens: Any = None,
) -> tuple[float | None, float | None]:
    """Return ``(prompt_cost, output_cost)`` in USD; ``None`` for what cannot be priced."""
    if (
        type(model) is str
        and type(prompt_tokens) is int
        and type(output_tokens) is int
        and type(cached_tokens) in _INT_OR_NONE
        and type(cache_creation_tokens) in _INT_OR_NONE
    ):
        key = (model, prompt_tokens, output_tokens, cached_tokens, cache_creation_tokens)
        found = _costs.get(key)
        if found is None:
            generation = _generation[0]
            found = _costs_of(*key)
            with _lock:
                if generation == _generation[0]:
                    if len(_costs) >= 4096:
                        _costs.clear()
                    _costs[key] = found
        return found
    return _costs_of(model, prompt_tokens, output_tokens, cached_tokens, cache_creation_tokens)


def _costs_of(
    model: Any,
    prompt_tokens: Any,
    output_tokens: Any,
    cached_tokens: Any,
    cache_creation_tokens: Any,
) -> tuple[float | None, float | None]:
    if not isinstance(model, str) or not model:
        return None, None
    price = price_for(model)
    if price is None:
        return None, None
    prompt_cost = output_cost = None
    if isinstance(prompt_tokens, int):
        cached = cached_tokens if isinstance(cached_tokens, int) else 0
        written = cache_creation_tokens if isinstance(cache_creation_tokens, int) else 0
        uncached = max(prompt_tokens - cached - written, 0)
        cached_price = price.input if price.cached_input is None else price.cached_input
        write_price = price.input if price.cache_write is None else price.cache_write
        total = uncached * price.input + cached * cached_price + written * write_price
        prompt_cost = round(total / 1e6, 10)
    if isinstance(output_tokens, int):
        output_cost = round(output_tokens * price.output / 1e6, 10)
    return prompt_cost, output_cost


relock_after_fork(globals(), "_lock")

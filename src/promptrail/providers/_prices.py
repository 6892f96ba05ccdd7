"""Cost of a call in USD: prices you register, else genai-prices' (kept up to date upstream).

Prices come from two places, in this order:

1. :func:`register_price`: your deployments, fine-tunes and negotiated prices. A model name
   matches an entry when it is the entry's name, or that name followed by a snapshot suffix (a
   date such as ``-2024-08-06``/``-20250514``, ``-latest``, a ``-v2:0`` revision); a provider
   prefix (``openai/``, ``anthropic.``) is ignored; the longest matching entry wins.
2. genai-prices, the price data the pydantic team maintains for Logfire: providers' list prices
   with cache reads and writes, long-context tiers, service tiers (``flex``, ``priority``) and
   historic prices. It is imported on the first cost, in the export worker, never on the
   caller's thread.

A model neither knows gets no cost at all: costs are never guessed from a similar name.

``prompt_cost`` charges uncached prompt tokens at the input price, tokens read from the cache at
the cache-read price and tokens written to the cache at the cache-write price; ``output_cost``
charges output tokens (reasoning included) at the output price. Audio and image tokens, where
the usage reports them, are charged at genai-prices' audio and image prices. :func:`priced`
also says where the price came from (``metadata.price_source`` on the record).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
import threading
import warnings
from typing import Any

from promptrail._runtime.checks import is_number
from promptrail._runtime.locks import relock_after_fork
from promptrail.exceptions import ConfigurationError
from promptrail.providers._common import MODALITY_KEYS

__all__ = [
    "REGISTERED",
    "Price",
    "describe_price",
    "modalities_of",
    "price_for",
    "priced",
    "register_price",
]

REGISTERED = "register_price"
"""The price source of a registered price."""


@dataclasses.dataclass(frozen=True)
class Price:
    """USD per million tokens for one model."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


_Priced = tuple["float | None", "float | None", "str | None"]

_lock = threading.Lock()
_prices: dict[str, Price] = {}
_cache: dict[str, Price | None] = {}
# priced() of exact ints: the same few arguments come back call after call.
_costs: dict[Any, _Priced] = {}
_INT_OR_NONE = frozenset({int, type(None)})
_STR_OR_NONE = frozenset({str, type(None)})
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
    """Set the price of ``model`` in USD per million tokens (it wins over genai-prices).

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
        ConfigurationError: If ``model`` is not a non-empty string, or a price is not a
            non-negative number (a ``ValueError``).

    .. versionadded:: 0.1.0
    """
    if not model or not isinstance(model, str):
        msg = f"register_price needs a model name (a non-empty string), not {model!r}"
        raise ConfigurationError(msg)
    optional = {"cached_input": cached_input, "cache_write": cache_write}
    given = {
        "input": input,
        "output": output,
        **{k: v for k, v in optional.items() if v is not None},
    }
    for name, price in given.items():
        if not is_number(price) or not price >= 0:
            msg = f"register_price needs non-negative prices: {name}={price!r} for {model!r}"
            raise ConfigurationError(msg)
    with _lock:
        _prices[model.lower()] = Price(input, output, cached_input, cache_write)
        _prices_changed()


def unregister_price(model: str) -> None:
    """Forget a registered price (genai-prices' price, if any, applies again); for tests."""
    with _lock:
        _prices.pop(model.lower(), None)
        _prices_changed()


def _prices_changed() -> None:
    """Forget every looked-up price and computed cost (called holding ``_lock``)."""
    _cache.clear()
    _costs.clear()
    _generation[0] += 1


def price_for(model: str) -> Price | None:
    """Return the registered price matching ``model``, or ``None`` when none matches."""
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


def priced(
    model: Any,
    prompt_tokens: Any,
    output_tokens: Any,
    cached_tokens: Any = None,
    cache_creation_tokens: Any = None,
    *,
    provider: Any = None,
    service_tier: Any = None,
    modalities: Any = None,
) -> _Priced:
    """Return ``(prompt_cost, output_cost, source)``: the costs and where the price came from.

    ``provider`` (``openai``, ``google``, ``aws`` ...) and ``service_tier`` (``flex``,
    ``priority``) pick among genai-prices' prices when given. ``modalities`` (from
    :func:`modalities_of`) says how many prompt and output tokens were audio or images: priced
    at genai-prices' audio and image rates (a registered price charges them as text).
    """
    key = (
        model,
        prompt_tokens,
        output_tokens,
        cached_tokens,
        cache_creation_tokens,
        provider,
        service_tier,
        modalities,
    )
    if not (
        type(model) is str
        and type(prompt_tokens) in _INT_OR_NONE
        and type(output_tokens) in _INT_OR_NONE
        and type(cached_tokens) in _INT_OR_NONE
        and type(cache_creation_tokens) in _INT_OR_NONE
        and type(provider) in _STR_OR_NONE
        and type(service_tier) in _STR_OR_NONE
        and (modalities is None or type(modalities) is tuple)
    ):
        return _priced(*key)
    found = _costs.get(key)
    if found is None:
        generation = _generation[0]
        found = _priced(*key)
        with _lock:
            if generation == _generation[0]:
                if len(_costs) >= 4096:
                    _costs.clear()
                _costs[key] = found
    return found


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _priced(
    model: Any,
    prompt_tokens: Any,
    output_tokens: Any,
    cached_tokens: Any,
    cache_creation_tokens: Any,
    provider: Any,
    service_tier: Any,
    modalities: Any = None,
) -> _Priced:
    prompt, output = _count(prompt_tokens), _count(output_tokens)
    if not isinstance(model, str) or not model or (prompt is None and output is None):
        return None, None, None
    cached = _count(cached_tokens) or 0
    written = _count(cache_creation_tokens) or 0
    price = price_for(model)
    if price is not None:
        prompt_cost = output_cost = None
        if prompt is not None:
            uncached = max(prompt - cached - written, 0)
            cached_price = price.input if price.cached_input is None else price.cached_input
            write_price = price.input if price.cache_write is None else price.cache_write
            total = uncached * price.input + cached * cached_price + written * write_price
            prompt_cost = round(total / 1e6, 10)
        if output is not None:
            output_cost = round(output * price.output / 1e6, 10)
        return prompt_cost, output_cost, REGISTERED
    tier = service_tier if isinstance(service_tier, str) and service_tier else None
    name = provider if isinstance(provider, str) and provider else None
    return _genai_prices(model, prompt, output, cached, written, name, tier, modalities)


_MODALITY_USAGE = (
    "input_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "output_image_tokens",
)
"""genai-prices' ``Usage`` fields for :data:`MODALITY_KEYS`, in the same order."""


def modalities_of(metadata: Any) -> tuple[int, int, int, int] | None:
    """The audio and image token counts a record's metadata holds, or ``None`` when none."""
    if not metadata or not any(key in metadata for key in MODALITY_KEYS):
        return None
    counts = tuple(_count(metadata.get(key)) or 0 for key in MODALITY_KEYS)
    return counts if any(counts) else None  # type: ignore[return-value]


_PROVIDERS = {"bedrock": "aws", "gemini": "google", "vertex_ai": "google"}
"""promptrail's provider names that genai-prices spells differently."""


def _genai_prices(
    model: str,
    prompt: int | None,
    output: int | None,
    cached: int,
    written: int,
    provider: str | None,
    service_tier: str | None,
    modalities: Any = None,
) -> _Priced:
    try:
        import genai_prices
    except ImportError:  # pragma: no cover - a dependency; absent only in a broken install
        return None, None, None
    extra: dict[str, int] = {}
    if isinstance(modalities, tuple) and len(modalities) == len(_MODALITY_USAGE):
        limits = (prompt, output, prompt, output)  # never more than the tokens they are part of
        for name, count, limit in zip(_MODALITY_USAGE, modalities, limits, strict=True):
            if _count(count) and limit:
                extra[name] = min(count, limit)
    usage = genai_prices.Usage(
        input_tokens=prompt or 0,
        output_tokens=output or 0,
        cache_read_tokens=cached or None,
        cache_write_tokens=written or None,
        **extra,
    )
    context = {"service_tier": service_tier} if service_tier else None
    provider_id = None if provider is None else _PROVIDERS.get(provider, provider)
    calc: Any = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its own notices (data updates) are not ours to show
        for candidate in dict.fromkeys((provider_id, None)):  # the provider, then any
            try:
                calc = genai_prices.calc_price(
                    usage, model, provider_id=candidate, price_context=context
                )
                break
            except LookupError:
                continue
    if calc is None:
        return None, None, None
    prompt_cost = None if prompt is None else round(float(calc.input_price), 10)
    output_cost = None if output is None else round(float(calc.output_price), 10)
    return prompt_cost, output_cost, _source(calc)


def _source(calc: Any) -> str:
    try:
        version = importlib.metadata.version("genai-prices")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored copies
        version = "?"
    provider = getattr(getattr(calc, "provider", None), "id", None)
    model = getattr(getattr(calc, "model", None), "id", None)
    return f"genai-prices {version}: {provider}/{model}"


def describe_price(model: str, provider: str | None = None) -> dict[str, Any] | None:
    """What promptrail charges for ``model`` per million tokens, and where the price comes from.

    The base prices: a long-context tier that starts past some prompt size is not shown.
    Returns ``None`` when neither a registered price nor genai-prices knows the model.
    """
    # Priced on 1,000 tokens, scaled up: a million would reach long-context tiers.
    unit, scale = 1000, 1000

    def per_million(value: float | None) -> float | None:
        return None if value is None else round(value * scale, 6)

    prompt, output, source = priced(model, unit, unit, provider=provider)
    if source is None:
        return None
    cache_read, _, _ = priced(model, unit, 0, unit, provider=provider)
    cache_write, _, _ = priced(model, unit, 0, 0, unit, provider=provider)
    return {
        "model": model,
        "input": per_million(prompt),
        "output": per_million(output),
        "cache_read": per_million(cache_read),
        "cache_write": per_million(cache_write),
        "source": source,
    }


relock_after_fork(globals(), "_lock")

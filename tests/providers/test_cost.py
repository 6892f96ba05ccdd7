"""Cost: USD from the price table, never guessed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import promptrail
from promptrail.providers import _prices as _cost
from promptrail.testing import capture_logs


@pytest.fixture(autouse=True)
def _forget_registered_prices() -> Iterator[None]:
    """Prices registered by a test do not leak into the next one."""
    yield
    for model in ("my-model", "gpt-4o"):
        _cost.unregister_price(model)


class TestPriceFor:
    """Matching model names to price entries."""

    @pytest.mark.parametrize(
        ("model", "entry"),
        [
            ("gpt-4o", "gpt-4o"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
            ("claude-sonnet-4-20250514", "claude-sonnet-4"),
            ("claude-opus-4-5-20251101", "claude-opus-4-5"),
            ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
            ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
            ("GPT-4O", "gpt-4o"),
        ],
    )
    def test_snapshots_match_their_base_model(self, model: str, entry: str) -> None:
        """Dated snapshots and provider prefixes find the entry; the longest entry wins."""
        assert _cost.price_for(model) == _cost._BUILTIN[entry]

    @pytest.mark.parametrize(
        "model", ["claude-opus-4-6", "gpt-4o-audio-preview", "llama-3-70b", "gpt-4o-mini-tts"]
    )
    def test_unknown_models_are_not_guessed(self, model: str) -> None:
        """A name that merely starts like a known model gets no price."""
        assert _cost.price_for(model) is None
        assert _cost.costs(model, 100, 100) == (None, None)


class TestCosts:
    """Computing prompt and output cost."""

    def test_cached_and_written_tokens_use_their_prices(self) -> None:
        """Cache reads and writes are charged at their own prices, the rest at input price."""
        prompt_cost, output_cost = _cost.costs(
            "claude-haiku-4-5", 1_000_000, 2_000_000, 400_000, 100_000
        )
        assert prompt_cost == pytest.approx(0.5 * 1.0 + 0.4 * 0.1 + 0.1 * 1.25)
        assert output_cost == pytest.approx(2 * 5.0)

    def test_missing_counts_give_missing_costs(self) -> None:
        """Without a token count there is no cost for that side."""
        assert _cost.costs("gpt-4o", None, 1_000_000) == (None, 10.0)
        assert _cost.costs(None, 10, 10) == (None, None)

    def test_register_price_adds_and_overrides(self) -> None:
        """Registered prices price their model and its snapshots, and override built-ins."""
        promptrail.register_price("my-model", input=1.0, output=2.0, cached_input=0.5)
        promptrail.register_price("gpt-4o", input=100.0, output=100.0)
        assert _cost.costs("my-model-2026-01-01", 2_000_000, 1_000_000, 1_000_000) == (1.5, 2.0)
        assert _cost.costs("gpt-4o-2024-08-06", 1_000_000, 0) == (100.0, 0.0)
        _cost.unregister_price("gpt-4o")
        assert _cost.costs("gpt-4o", 1_000_000, 0) == (2.5, 0.0)

    def test_remembered_costs_follow_price_changes(self) -> None:
        """A cost computed before register_price()/unregister_price() is not reused after."""
        assert _cost.costs("gpt-4o", 1_000_000, 0) == (2.5, 0.0)
        promptrail.register_price("gpt-4o", input=100.0, output=100.0)
        assert _cost.costs("gpt-4o", 1_000_000, 0) == (100.0, 0.0)
        _cost.unregister_price("gpt-4o")
        assert _cost.costs("gpt-4o", 1_000_000, 0) == (2.5, 0.0)
        assert _cost.costs("gpt-4o", True, 0) == (2.5e-06, 0.0)  # not an exact int: not remembered

    def test_register_price_rejects_bad_values(self) -> None:
        """Negative prices and empty names are refused at once."""
        with pytest.raises(ValueError, match="non-negative"):
            promptrail.register_price("x", input=-1.0, output=1.0)
        with pytest.raises(ValueError, match="model name"):
            promptrail.register_price("", input=1.0, output=1.0)

    def test_record_costs_use_the_registered_price(self) -> None:
        """A decorated call returning a dict response is priced with the user's table."""
        promptrail.register_price("my-model", input=3.0, output=6.0)

        @promptrail.log_prompt(model="my-model")
        def answer() -> dict[str, object]:
            return {
                "object": "chat.completion",
                "model": "my-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 500},
            }

        with capture_logs() as logs:
            answer()
        assert logs[0].prompt_cost == pytest.approx(0.003)
        assert logs[0].output_cost == pytest.approx(0.003)

    def test_user_set_costs_win(self) -> None:
        """Costs given with ``update_current`` are kept as they are."""

        @promptrail.log_prompt(model="gpt-4o")
        def answer() -> dict[str, object]:
            promptrail.update_current(prompt_cost=1.0, output_cost=2.0)
            return {"object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 5}}

        with capture_logs() as logs:
            answer()
        assert (logs[0].prompt_cost, logs[0].output_cost) == (1.0, 2.0)

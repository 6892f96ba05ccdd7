"""Cost: USD from registered prices or genai-prices, never guessed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import promptrail
from promptrail.providers import _prices as _cost
from promptrail.testing import capture_logs


def costs(*args: Any, **kwargs: Any) -> tuple[float | None, float | None]:
    """``(prompt_cost, output_cost)`` of :func:`priced` (where the price came from left out)."""
    prompt_cost, output_cost, _ = _cost.priced(*args, **kwargs)
    return prompt_cost, output_cost


@pytest.fixture(autouse=True)
def _forget_registered_prices() -> Iterator[None]:
    """Prices registered by a test do not leak into the next one."""
    yield
    for model in ("my-model", "my-model-mini", "gpt-4o"):
        _cost.unregister_price(model)


class TestPriceFor:
    """Matching model names to registered prices."""

    @pytest.mark.parametrize(
        ("model", "entry"),
        [
            ("my-model", "my-model"),
            ("my-model-2024-08-06", "my-model"),
            ("my-model-mini-2024-07-18", "my-model-mini"),
            ("openai/my-model", "my-model"),
            ("anthropic.my-model-20240307-v1:0", "my-model"),
            ("MY-MODEL", "my-model"),
        ],
    )
    def test_snapshots_match_their_base_model(self, model: str, entry: str) -> None:
        """Dated snapshots and provider prefixes find the entry; the longest entry wins."""
        promptrail.register_price("my-model", input=1.0, output=2.0)
        promptrail.register_price("my-model-mini", input=0.1, output=0.2)
        expected = _cost.Price(1.0, 2.0) if entry == "my-model" else _cost.Price(0.1, 0.2)
        assert _cost.price_for(model) == expected

    @pytest.mark.parametrize("model", ["no-such-model", "acme-llm-9000", "my-model-mini"])
    def test_unknown_models_are_not_guessed(self, model: str) -> None:
        """A name neither registered nor known to genai-prices gets no price at all."""
        assert _cost.price_for(model) is None
        assert costs(model, 100, 100) == (None, None)


class TestInvoices:
    """Costs checked against invoices computed by hand from the providers' list prices."""

    def test_openai_cached_prompt_tokens(self) -> None:
        """gpt-4o: $2.50/M input, $1.25/M cached input, $10/M output."""
        prompt_cost, output_cost, source = _cost.priced(
            "gpt-4o-2024-08-06", 1_000_000, 2_000_000, 400_000, provider="openai"
        )
        assert prompt_cost == pytest.approx(0.6 * 2.50 + 0.4 * 1.25)
        assert output_cost == pytest.approx(2 * 10.0)
        assert source is not None
        assert source.startswith("genai-prices ")

    def test_anthropic_cache_write_and_read(self) -> None:
        """claude-sonnet-4: $3/M input, $0.30/M cache read, $3.75/M cache write, $15/M output."""
        prompt_cost, output_cost = costs(
            "claude-sonnet-4-20250514", 1000, 1000, 500, 200, provider="anthropic"
        )
        assert prompt_cost == pytest.approx((300 * 3.0 + 500 * 0.30 + 200 * 3.75) / 1e6)
        assert output_cost == pytest.approx(1000 * 15.0 / 1e6)

    def test_reasoning_model_output_includes_reasoning_tokens(self) -> None:
        """o4-mini: $1.10/M input, $4.40/M output; reasoning tokens are in the output count."""
        prompt_cost, output_cost = costs("o4-mini", 40, 20, provider="openai")
        assert prompt_cost == pytest.approx(40 * 1.10 / 1e6)
        assert output_cost == pytest.approx(20 * 4.40 / 1e6)

    def test_long_context_tier(self) -> None:
        """gemini-2.5-pro above 200k prompt tokens: $2.50/M input, $15/M output."""
        long_prompt, long_output = costs("gemini-2.5-pro", 300_000, 1000, provider="google")
        short_prompt, _ = costs("gemini-2.5-pro", 100_000, 1000, provider="google")
        assert long_prompt == pytest.approx(300_000 * 2.50 / 1e6)
        assert long_output == pytest.approx(1000 * 15.0 / 1e6)
        assert short_prompt == pytest.approx(100_000 * 1.25 / 1e6)

    def test_service_tier(self) -> None:
        """gpt-5: $1.25/$10 per M; flex halves it, priority doubles it."""
        million = 1_000_000
        assert costs("gpt-5", million, million, provider="openai") == (1.25, 10.0)
        flex = costs("gpt-5", million, million, provider="openai", service_tier="flex")
        assert flex == (0.625, 5.0)
        fast = costs("gpt-5", million, million, provider="openai", service_tier="priority")
        assert fast == (2.5, 20.0)

    @pytest.mark.parametrize(
        ("model", "provider", "per_million"),
        [
            ("mistral-large-latest", "mistral", (2.0, 6.0)),
            ("anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock", (3.0, 15.0)),
            ("gemini-2.5-flash", "gemini", (0.30, 2.50)),
        ],
    )
    def test_other_providers(
        self, model: str, provider: str, per_million: tuple[float, float]
    ) -> None:
        """Mistral, Bedrock and Gemini list prices (promptrail's provider names are mapped)."""
        prompt_cost, output_cost = costs(model, 1000, 1000, provider=provider)
        assert prompt_cost == pytest.approx(1000 * per_million[0] / 1e6)
        assert output_cost == pytest.approx(1000 * per_million[1] / 1e6)

    def test_describe_price(self) -> None:
        """describe_price gives the per-million prices and their source."""
        described = _cost.describe_price("gpt-4o", "openai")
        assert described is not None
        assert (described["input"], described["output"]) == (2.5, 10.0)
        assert described["cache_read"] == 1.25
        assert _cost.describe_price("no-such-model") is None


class TestCosts:
    """Computing prompt and output cost."""

    def test_cached_and_written_tokens_use_their_prices(self) -> None:
        """Cache reads and writes are charged at their own registered prices."""
        promptrail.register_price(
            "my-model", input=1.0, output=5.0, cached_input=0.1, cache_write=1.25
        )
        prompt_cost, output_cost = costs("my-model", 1_000_000, 2_000_000, 400_000, 100_000)
        assert prompt_cost == pytest.approx(0.5 * 1.0 + 0.4 * 0.1 + 0.1 * 1.25)
        assert output_cost == pytest.approx(2 * 5.0)

    def test_missing_counts_give_missing_costs(self) -> None:
        """Without a token count there is no cost for that side."""
        assert costs("gpt-4o", None, 1_000_000) == (None, 10.0)
        assert costs(None, 10, 10) == (None, None)

    def test_register_price_adds_and_overrides(self) -> None:
        """Registered prices price their model and its snapshots, and win over genai-prices."""
        promptrail.register_price("my-model", input=1.0, output=2.0, cached_input=0.5)
        promptrail.register_price("gpt-4o", input=100.0, output=100.0)
        assert costs("my-model-2026-01-01", 2_000_000, 1_000_000, 1_000_000) == (1.5, 2.0)
        assert costs("gpt-4o-2024-08-06", 1_000_000, 0) == (100.0, 0.0)
        _cost.unregister_price("gpt-4o")
        assert costs("gpt-4o", 1_000_000, 0) == (2.5, 0.0)

    def test_remembered_costs_follow_price_changes(self) -> None:
        """A cost computed before register_price()/unregister_price() is not reused after."""
        assert costs("gpt-4o", 1_000_000, 0) == (2.5, 0.0)
        promptrail.register_price("gpt-4o", input=100.0, output=100.0)
        assert costs("gpt-4o", 1_000_000, 0) == (100.0, 0.0)
        _cost.unregister_price("gpt-4o")
        assert costs("gpt-4o", 1_000_000, 0) == (2.5, 0.0)
        assert costs("gpt-4o", True, 0) == (None, 0.0)  # a bool is not a token count

    def test_register_price_rejects_bad_values(self) -> None:
        """Negative prices and empty names are refused at once."""
        with pytest.raises(ValueError, match="non-negative"):
            promptrail.register_price("x", input=-1.0, output=1.0)
        with pytest.raises(ValueError, match="model name"):
            promptrail.register_price("", input=1.0, output=1.0)

    @pytest.mark.parametrize(
        ("model", "prices", "named"),
        [
            (1, {"input": 1.0, "output": 1.0}, "model name"),
            ("x", {"input": "3", "output": 1.0}, "input"),
            ("x", {"input": 1.0, "output": float("nan")}, "output"),
            ("x", {"input": 1.0, "output": 1.0, "cached_input": True}, "cached_input"),
        ],
    )
    def test_register_price_names_the_wrong_argument(
        self, model: Any, prices: dict[str, Any], named: str
    ) -> None:
        """A non-string model or a price that is no number raises ConfigurationError naming it."""
        with pytest.raises(promptrail.ConfigurationError, match=named):
            promptrail.register_price(model, **prices)

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
        assert logs[0].metadata["price_source"] == "register_price"

    def test_user_set_costs_win(self) -> None:
        """Costs given with ``update_current`` are kept as they are."""

        @promptrail.log_prompt(model="gpt-4o")
        def answer() -> dict[str, object]:
            promptrail.update_current(prompt_cost=1.0, output_cost=2.0)
            return {"object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 5}}

        with capture_logs() as logs:
            answer()
        assert (logs[0].prompt_cost, logs[0].output_cost) == (1.0, 2.0)


class TestModalities:
    """Audio and image tokens, where the usage reports them, at their own prices."""

    def test_audio_tokens_invoice(self) -> None:
        """gpt-audio: text $2.50/$10 per M, audio $32/M in and $64/M out."""
        prompt_cost, output_cost = costs(
            "gpt-audio", 1000, 2000, provider="openai", modalities=(400, 1500, 0, 0)
        )
        assert prompt_cost == pytest.approx((600 * 2.50 + 400 * 32.0) / 1e6)
        assert output_cost == pytest.approx((500 * 10.0 + 1500 * 64.0) / 1e6)

    def test_image_output_tokens_invoice(self) -> None:
        """gemini-2.5-flash-image: $0.30/M in, $2.50/M text out, $30/M image out."""
        prompt_cost, output_cost = costs(
            "gemini-2.5-flash-image", 100, 1300, provider="google", modalities=(0, 0, 0, 1290)
        )
        assert prompt_cost == pytest.approx(100 * 0.30 / 1e6)
        assert output_cost == pytest.approx((10 * 2.50 + 1290 * 30.0) / 1e6)

    def test_registered_prices_charge_them_as_text(self) -> None:
        """A registered price has no audio rate: audio tokens cost what text tokens cost."""
        promptrail.register_price("my-model", input=1.0, output=2.0)
        priced = costs("my-model", 1000, 1000, modalities=(500, 500, 0, 0))
        assert priced == costs("my-model", 1000, 1000)

    def test_chat_completion_audio_usage_is_priced(self) -> None:
        """A Chat Completion's audio token details reach metadata and the record's costs."""

        @promptrail.log_prompt(model="gpt-audio")
        def answer() -> dict[str, object]:
            return {
                "object": "chat.completion",
                "model": "gpt-audio",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}],
                "usage": {
                    "prompt_tokens": 1000,
                    "completion_tokens": 2000,
                    "prompt_tokens_details": {"audio_tokens": 400, "cached_tokens": 0},
                    "completion_tokens_details": {"audio_tokens": 1500, "reasoning_tokens": 0},
                },
            }

        with capture_logs() as logs:
            answer()
        (record,) = logs
        assert record.metadata["audio_prompt_tokens"] == 400
        assert record.metadata["audio_output_tokens"] == 1500
        assert record.prompt_cost == pytest.approx((600 * 2.50 + 400 * 32.0) / 1e6)
        assert record.output_cost == pytest.approx((500 * 10.0 + 1500 * 64.0) / 1e6)

"""`promptrail prices MODEL`: the prices promptrail charges, and where they come from."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

import promptrail
from promptrail.cli._main import main
from promptrail.providers import _prices


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    yield
    _prices.unregister_price("our-finetune")


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["prices", *argv], out=out), out.getvalue()


class TestPrices:
    """The prices command."""

    def test_known_model_prints_prices_per_million_and_the_source(self) -> None:
        """gpt-4o: its list prices per million tokens, from genai-prices."""
        code, text = run("gpt-4o", "--provider", "openai")
        assert code == 0
        assert "genai-prices" in text.splitlines()[0]
        assert "$   2.5000 / 1M tokens" in text
        assert "$  10.0000 / 1M tokens" in text

    def test_base_price_not_the_long_context_tier(self) -> None:
        """A model with a long-context tier shows its base price."""
        _code, text = run("claude-sonnet-4-5", "--json")
        assert json.loads(text)["input"] == 3.0

    def test_registered_price_wins_and_says_so(self) -> None:
        """A registered model is priced from the registration."""
        promptrail.register_price("our-finetune", input=1.0, output=4.0)
        code, text = run("our-finetune", "--json")
        assert code == 0
        assert json.loads(text) == {
            "model": "our-finetune",
            "input": 1.0,
            "output": 4.0,
            "cache_read": 1.0,
            "cache_write": 1.0,
            "source": "register_price",
        }

    def test_unknown_model_exits_1_and_says_how_to_price_it(self) -> None:
        """No price is guessed: exit status 1 and a hint."""
        code, text = run("acme-9000")
        assert code == 1
        assert "register_price" in text

"""@log_tool derives the tool's JSON Schema from its signature and docstring."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel

from promptrail import log_tool
from promptrail.providers._tool_schema import tool_schema
from promptrail.testing import capture_logs


class Unit(enum.Enum):
    """Temperature units."""

    C = "celsius"
    F = "fahrenheit"


class Place(BaseModel):
    """A place."""

    name: str


@log_tool(path="tools/weather")
def get_weather(
    city: str,
    days: int = 1,
    unit: Unit = Unit.C,
    detail: Literal["short", "long"] | None = None,
    tags: list[str] | None = None,
) -> str:
    """Look up the weather forecast.

    Args:
        city: The city to look up.
        days: How many days ahead,
            counting today.
        unit: The temperature unit.
        detail: How much to say.
        tags: Free labels.
    """
    return "sunny"


class TestToolSchema:
    """The derived definition has the shape OpenAI and Anthropic tool definitions use."""

    def test_schema_from_signature_and_docstring(self) -> None:
        """Types, required parameters, defaults and descriptions come out right."""
        assert tool_schema(get_weather.__wrapped__) == {
            "name": "get_weather",
            "description": "Look up the weather forecast.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city to look up."},
                    "days": {
                        "type": "integer",
                        "description": "How many days ahead, counting today.",
                        "default": 1,
                    },
                    "unit": {
                        "enum": ["celsius", "fahrenheit"],
                        "description": "The temperature unit.",
                        "default": "celsius",
                    },
                    "detail": {
                        "enum": ["short", "long"],
                        "description": "How much to say.",
                        "default": None,
                    },
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Free labels.",
                        "default": None,
                    },
                },
                "required": ["city"],
            },
        }

    def test_stored_with_the_tool_log(self) -> None:
        """The tool log carries the definition; prompt logs do not."""
        with capture_logs() as logs:
            get_weather("Paris")
        assert logs[0].tool is not None
        assert logs[0].tool["name"] == "get_weather"
        assert logs[0].to_body()["tool"]["parameters"]["required"] == ["city"]

    def test_models_methods_and_untyped(self) -> None:
        """Pydantic models use their schema; self, *args, **kwargs are skipped; no types is fine."""

        class Tools:
            def find(self, place: Place, *args: int, limit=3, **kwargs: str):  # type: ignore[no-untyped-def]
                """Find things."""

        schema = tool_schema(Tools.find)
        props = schema["parameters"]["properties"]
        assert set(props) == {"place", "limit"}
        assert props["place"]["properties"]["name"]["type"] == "string"
        assert props["limit"] == {"default": 3}
        assert schema["parameters"]["required"] == ["place"]

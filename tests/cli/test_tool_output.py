"""A tool's dict result, stored as JSON text, is shown as data by ``promptrail show --full``."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tests.fixtures.traces import log

from promptrail.cli._main import main
from promptrail.exporters import SqliteStore


def test_json_output_is_shown_indented_and_text_as_is(tmp_path: Path) -> None:
    """A long JSON object is printed one key per line; text that is not JSON is untouched."""
    result = {"city": "Oslo", "forecast": ["sun", "rain", "snow"], "note": "x" * 80}
    store = SqliteStore(tmp_path / "p.db")
    store.write(
        [
            log("t", "agent/run", trace_id="t", kind="flow", output="[not json"),
            log(
                "w",
                "agent/weather",
                trace_id="t",
                parent="t",
                kind="tool",
                output=json.dumps(result),
            ),
        ]
    )
    store.close()
    out = io.StringIO()
    main(["show", "--db", str(tmp_path / "p.db"), "t", "--full", "--color", "never"], out)
    text = out.getvalue()
    assert '"city": "Oslo",' in text
    assert any(line.strip() == '"sun",' for line in text.splitlines())
    assert "output    [not json" in text

"""Prompt versions: a stable hash of the prompt details."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import promptrail
from promptrail._record.models import PromptKernel
from promptrail._record.versions import version_id
from promptrail.testing import capture_logs

KERNEL = {"model": "gpt-4o", "temperature": 0.2, "tools": [{"name": "f", "parameters": {}}]}


class TestVersionId:
    """``version_id`` of a prompt kernel."""

    def test_same_details_same_id(self) -> None:
        """Equal details give equal ids, whatever the key order or number spelling."""
        a = PromptKernel.model_validate(KERNEL)
        b = PromptKernel.model_validate(dict(reversed(list(KERNEL.items()))))
        c = PromptKernel.model_validate({**KERNEL, "temperature": 0.2000})
        assert version_id(a) == version_id(b) == version_id(c)
        assert version_id(a).startswith("pv_")
        assert len(version_id(a)) == 3 + 32

    @pytest.mark.parametrize(
        "change",
        [
            {"model": "gpt-4o-mini"},
            {"temperature": 0.3},
            {"template": "Say {x}"},
            {"provider": "azure"},
            {"endpoint": "complete"},
            {"tools": [{"name": "g", "parameters": {}}]},
            {"other": {"top_k": 3}},
        ],
    )
    def test_any_change_gives_a_new_id(self, change: dict[str, Any]) -> None:
        """Changing one detail changes the id."""
        base = PromptKernel.model_validate(KERNEL)
        assert version_id(PromptKernel.model_validate({**KERNEL, **change})) != version_id(base)

    def test_id_is_the_same_in_another_process(self) -> None:
        """The id does not depend on the process (no salted ``hash()``)."""
        code = (
            "from promptrail._record.models import PromptKernel\n"
            "from promptrail._record.versions import version_id\n"
            f"print(version_id(PromptKernel.model_validate({KERNEL!r})))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
            env={"PYTHONHASHSEED": "123", **__import__("os").environ},
        )
        assert out.stdout.strip() == version_id(PromptKernel.model_validate(KERNEL))


class TestThroughTheDecorator:
    """Version ids in records."""

    def test_calls_with_the_same_details_share_a_version(self) -> None:
        """Same parameters: same version; another temperature: another one."""

        @promptrail.log_prompt(path="p", template="Say {x}")
        def answer(x: str, model: str = "gpt-4o", temperature: float = 0.0) -> str:
            return x

        with capture_logs() as logs:
            answer("a")
            answer("b")
            answer("a", temperature=0.5)
        assert logs[0].version_id == logs[1].version_id != logs[2].version_id
        assert logs[0].version_id is not None

    def test_failed_call_has_the_version_of_a_good_one(self) -> None:
        """Details read from the response (provider, endpoint) do not change the version."""

        @promptrail.log_prompt
        def answer(model: str, fail: bool) -> dict[str, Any]:
            if fail:
                raise RuntimeError("down")
            return {"object": "chat.completion", "model": model + "-2024-08-06", "choices": []}

        with capture_logs() as logs:
            answer("gpt-4o", False)
            with pytest.raises(RuntimeError):
                answer("gpt-4o", True)
        good, failed = logs
        assert good.prompt is not None
        assert good.prompt.endpoint == "chat"
        assert good.version_id == failed.version_id

    def test_user_set_version_wins(self) -> None:
        """A version id given by the user is kept."""

        @promptrail.log_prompt(model="gpt-4o")
        def answer() -> str:
            promptrail.update_current(version_id="v-mine")
            return "x"

        with capture_logs() as logs:
            answer()
        assert logs[0].version_id == "v-mine"

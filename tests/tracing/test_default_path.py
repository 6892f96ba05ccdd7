"""Default paths of functions defined in a script run as ``__main__``."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

from promptrail import log_prompt
from promptrail.testing import capture_logs

HERE = __name__.replace(".", "/")

SCRIPT = textwrap.dedent(
    """
    import promptrail
    from promptrail.testing import capture_logs

    class SupportBot:
        @promptrail.log_prompt
        def reply(self, q: str) -> str:
            return "ok"

    with capture_logs() as logs:
        SupportBot().reply("hi")
    print(logs[0].path)
    """
)


def test_a_script_uses_its_file_name(tmp_path: Path) -> None:
    """``python support_bot.py`` files its logs under ``support_bot/``, not ``__main__/``."""
    script = tmp_path / "support_bot.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "support_bot/SupportBot/reply"


def test_a_module_run_with_dash_m_uses_its_name(tmp_path: Path) -> None:
    """``python -m bots.support`` files its logs under ``bots/support/``."""
    package = tmp_path / "bots"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "support.py").write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, "-m", "bots.support"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.stdout.strip() == "bots/support/SupportBot/reply"


class Scorer:
    """A callable object."""

    def __call__(self, text: str) -> int:
        return len(text)


def add(a: int, b: int) -> int:
    """A function to take a partial of."""
    return a + b


class TestCallables:
    """Callables without a name of their own get the name of what they call."""

    def test_a_callable_object_uses_its_class(self) -> None:
        """An instance with __call__ is filed under its class, not under "function"."""
        with capture_logs() as logs:
            log_prompt(Scorer())("abc")
        assert logs[0].path == f"{HERE}/Scorer"

    def test_a_partial_uses_its_function(self) -> None:
        """functools.partial(add, 1) is filed under add, not under functools/function."""
        with capture_logs() as logs:
            log_prompt(functools.partial(add, 1))(2)
        assert logs[0].path == f"{HERE}/add"

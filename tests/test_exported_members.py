"""The public surface: complete, sorted, and documented."""

from __future__ import annotations

import inspect
import subprocess
import sys

import promptrail
import promptrail.exporters
import promptrail.testing


def test_all_is_sorted_and_complete() -> None:
    """Every public name is in ``__all__``, which is sorted, and every entry exists."""
    for module in (promptrail, promptrail.exporters, promptrail.testing):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), name
    for module in (promptrail, promptrail.exporters):  # pure re-export modules
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and not inspect.ismodule(value)
            and getattr(value, "__module__", "").startswith("promptrail")
        }
        assert public <= set(module.__all__), public - set(module.__all__)


def test_every_public_object_has_a_docstring() -> None:
    """Users read docstrings: none of the public objects goes without one."""
    for module in (promptrail, promptrail.exporters, promptrail.testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) or inspect.isclass(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"


def test_a_missing_optional_dependency_names_its_package() -> None:
    """promptrail.GenAiSpanProcessor without opentelemetry-sdk says what to install."""
    script = (
        "import sys\n"
        "sys.modules['opentelemetry.sdk'] = None  # as if opentelemetry-sdk were not installed\n"
        "import promptrail\n"
        "try:\n"
        "    promptrail.GenAiSpanProcessor\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc.name, exc, sep='|')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    kind, name, message = out.strip().split("|")
    assert kind == "ModuleNotFoundError"
    assert name.startswith("opentelemetry.sdk")
    assert "pip install opentelemetry-sdk" in message

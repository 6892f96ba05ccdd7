#!/usr/bin/env bash
# CI: promptrail works WITHOUT opentelemetry-sdk. Installs the base package (no extras) into a
# throwaway venv and checks there: `import promptrail`, a decorated call is logged,
# `promptrail.OtelBridge()` works with only opentelemetry-api (no-op spans) and calls under it
# are still logged, `promptrail.flush()`; and `opentelemetry.sdk` is not importable.
# Usage: .ci/check-no-otel-sdk.sh   (from anywhere; about 15-30 s with a warm pip cache)
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

python=${PYTHON:-python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$python" -m venv "$tmp/venv"
venv_python="$tmp/venv/bin/python"
# A copy of the tree, so the build leaves nothing behind in the checkout.
mkdir "$tmp/src"
tar --exclude=.git --exclude='*.db' --exclude=__pycache__ --exclude=.venv -cf - . | tar -xf - -C "$tmp/src"
"$venv_python" -m pip install -qq "$tmp/src"
if ! "$venv_python" -c "import opentelemetry.trace" 2>/dev/null; then
  # opentelemetry-api is no longer a base dependency: the otel extra brings it (API only).
  "$venv_python" -m pip install -qq "$tmp/src[otel]"
fi

cd "$tmp"  # not the checkout: promptrail must come from the venv, not ./src
PROMPTRAIL_DB="$tmp/logs.db" "$venv_python" - <<'PY'
import importlib.util
import os
import sys

assert importlib.util.find_spec("opentelemetry.sdk") is None, "opentelemetry-sdk is installed"

import promptrail
from promptrail.exporters import InMemoryExporter, SqliteStore

assert "/venv/" in promptrail.__file__, promptrail.__file__
assert "opentelemetry.sdk" not in sys.modules


@promptrail.log_prompt(path="ci/answer", model="m")
def answer(question: str) -> str:
    return "42"


@promptrail.log_flow(path="ci/flow")
def flow(question: str) -> str:
    return answer(question)


# The default pipeline (SQLite at $PROMPTRAIL_DB), no configure() call.
assert answer("q") == "42"
assert promptrail.flush() is True
assert [r.path for r in SqliteStore(os.environ["PROMPTRAIL_DB"]).logs()] == ["ci/answer"]

# The bridge on the global provider: the API's no-op one, as no SDK is installed.
records = InMemoryExporter()
bridge = promptrail.OtelBridge()
promptrail.configure(processors=[promptrail.SimpleProcessor(records), bridge])
assert flow("q") == "42"
paths = [r.path for r in records.records]
assert paths == ["ci/answer", "ci/flow"], paths
child, root = records.records
assert child.trace_parent_id == root.log_id
assert "otel.span_id" not in root.metadata  # no SDK: no span of promptrail's own
assert promptrail.flush() is True
promptrail.shutdown()
assert importlib.util.find_spec("opentelemetry.sdk") is None
assert "opentelemetry.sdk" not in sys.modules
print(f"ok: promptrail {promptrail.__version__} works without opentelemetry-sdk")
PY

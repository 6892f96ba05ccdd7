"""The terminal viewer: a trace drawn as a tree with a timeline bar per log, and its details.

``render_trace(records)`` returns the lines that ``promptrail show`` and ``promptrail tail``
print. Colours come from a :class:`Palette` that is plain unless the output is a terminal and
``NO_COLOR`` is unset. Log content is untrusted: control characters (an ANSI escape in a prompt)
are shown escaped, never sent to the terminal.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import Any, TextIO

from promptrail._record.models import ChatMessage, LogRecord
from promptrail._tracing.failures import ERROR_TRACEBACK_KEY
from promptrail.stores._sqlite import total_cost

__all__ = [
    "Palette",
    "format_cost",
    "format_duration",
    "log_duration",
    "render_trace",
    "render_tree",
    "sanitize",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BAR_WIDTH = 16
_MAX_NAME = 56
_ERROR_WIDTH = 100
_KIND_COLOR = {"prompt": "magenta", "flow": "blue", "tool": "yellow", "evaluator": "green"}
_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


class Palette:
    """ANSI styles, or none: ``Palette(True).paint("x", "red")`` colours, ``Palette(False)`` not.

    Args:
        enabled: Whether to emit escape codes.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: TextIO, mode: str = "auto") -> Palette:
        """Return the palette for ``stream``: ``always``, ``never``, or ``auto``.

        ``auto`` colours only a terminal, and never when ``NO_COLOR`` is set and non-empty.
        """
        if mode == "always":
            return cls(True)
        if mode == "never" or os.environ.get("NO_COLOR"):
            return cls(False)
        isatty = getattr(stream, "isatty", None)
        return cls(bool(isatty and isatty()))

    def paint(self, text: str, *styles: str) -> str:
        """Return ``text`` wrapped in the escape codes of ``styles`` (unchanged when disabled)."""
        if not self.enabled or not styles or not text:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def sanitize(text: str) -> str:
    """Return ``text`` with control characters (other than newline and tab) shown as escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).replace("\t", "    ")


def log_duration(record: LogRecord) -> float | None:
    """Return the log's duration in seconds: the measured latency, else end minus start."""
    if record.provider_latency is not None:
        return record.provider_latency
    if record.end_time is not None:
        return max((record.end_time - record.start_time).total_seconds(), 0.0)
    return None


def format_duration(seconds: float | None) -> str:
    """Return ``0.42ms``, ``12ms``, ``1.24s`` or ``2m03s`` (``?`` when unknown)."""
    if seconds is None:
        return "?"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f}ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def format_cost(cost: float | None) -> str:
    """Return a USD cost: ``$1.23``, ``$0.0123``, ``$0.000086`` (empty when unknown)."""
    if cost is None:
        return ""
    if cost >= 1:
        return f"${cost:.2f}"
    if cost >= 0.01:
        return f"${cost:.4f}"
    return f"${cost:.6f}"


def _tokens(prompt: int | None, output: int | None) -> str:
    if prompt is None and output is None:
        return ""
    return f"{prompt or 0}+{output or 0} tok"


def _children(records: Sequence[LogRecord]) -> dict[str | None, list[LogRecord]]:
    """Map parent id → children in start order; a log whose parent is missing becomes a root."""
    ids = {r.log_id for r in records}
    children: dict[str | None, list[LogRecord]] = {}
    for record in sorted(records, key=lambda r: (r.start_time, r.log_id)):
        parent = record.trace_parent_id if record.trace_parent_id in ids else None
        children.setdefault(parent, []).append(record)
    return children


def _walk(records: Sequence[LogRecord]) -> list[tuple[str, str, LogRecord]]:
    """Return (branch prefix, continuation prefix, record) in tree order."""
    children = _children(records)
    rows: list[tuple[str, str, LogRecord]] = []

    def walk(parent: str | None, indent: str, top: bool) -> None:
        kids = children.get(parent, [])
        for i, record in enumerate(kids):
            last = i == len(kids) - 1
            if top:
                branch, cont = "", ""
            else:
                branch = indent + ("└─ " if last else "├─ ")
                cont = indent + ("   " if last else "│  ")
            rows.append((branch, cont, record))
            walk(record.log_id, cont, False)

    walk(None, "", True)
    return rows


def _bar(record: LogRecord, start: float, span: float, palette: Palette) -> str:
    """A waterfall cell: where in the trace's time span this log ran, ``_BAR_WIDTH`` wide."""
    duration = log_duration(record) or 0.0
    offset = record.start_time.timestamp() - start
    if span <= 0:
        first, length = 0, _BAR_WIDTH
    else:
        first = min(round(offset / span * _BAR_WIDTH), _BAR_WIDTH - 1)
        length = max(1, min(round(duration / span * _BAR_WIDTH), _BAR_WIDTH - first))
    cells = " " * first + "█" * length + " " * (_BAR_WIDTH - first - length)
    colour = "red" if record.error else "cyan"
    return palette.paint("▏", "dim") + palette.paint(cells, colour) + palette.paint("▕", "dim")


def judgment_text(record: LogRecord) -> str:
    """A score's one-line summary: ``name = value (source) "comment"``."""
    value = record.judgment
    shown = ("👍 true" if value else "👎 false") if isinstance(value, bool) else str(value)
    text = f"{record.path} = {shown}"
    if record.source:
        text += f" ({record.source})"
    comment = record.metadata.get("comment")
    if isinstance(comment, str) and comment:
        text += f' "{comment}"'
    return sanitize(text)


def _span(records: Sequence[LogRecord]) -> tuple[float, float]:
    # Scores arrive whenever a user gives them: they are not part of the trace's time span.
    timed = [r for r in records if r.kind != "evaluator"] or records
    records = timed
    start = min(r.start_time.timestamp() for r in records)
    end = max(r.start_time.timestamp() + (log_duration(r) or 0.0) for r in records)
    return start, end - start


def render_tree(records: Sequence[LogRecord], palette: Palette | None = None) -> list[str]:
    """Return one line per log of a trace, drawn as a tree (children in start order).

    Each line: path, kind, duration, a timeline bar, model, tokens, cost and the error (red).
    A log whose parent is not in ``records`` is drawn as a root, so a partial trace still shows.
    """
    if not records:
        return []
    palette = palette or Palette(False)
    rows = _walk(records)
    start, span = _span(records)
    names = [sanitize(branch + r.path) for branch, _, r in rows]
    width = min(max(len(n) for n in names), _MAX_NAME)
    lines = []
    for name, (_, _, record) in zip(names, rows, strict=True):
        kind = palette.paint(f"{record.kind:<6}", _KIND_COLOR.get(record.kind, "dim"))
        if record.kind == "evaluator":  # a score: its judgment instead of timings
            score = palette.paint(f"★ {judgment_text(record)}", "green")
            lines.append(f"{name.ljust(width)} {kind} {score}")
            continue
        cells = [
            palette.paint(name.ljust(width), "bold")
            if not record.trace_parent_id
            else name.ljust(width),
            kind,
            f"{format_duration(log_duration(record)):>8}",
            _bar(record, start, span, palette),
        ]
        extras = []
        if record.prompt is not None and record.prompt.model:
            extras.append(palette.paint(sanitize(record.prompt.model), "dim"))
        tokens = _tokens(record.prompt_tokens, record.output_tokens)
        if tokens:
            extras.append(tokens)
        cost = format_cost(total_cost(record))
        if cost:
            extras.append(palette.paint(cost, "green"))
        incomplete = record.metadata.get("promptrail.incomplete")
        if incomplete:
            extras.append(palette.paint(sanitize(f"(incomplete: {incomplete})"), "yellow"))
        if record.error:
            first_line = sanitize(record.error.splitlines()[0] if record.error.strip() else "")
            if len(first_line) > _ERROR_WIDTH:
                first_line = first_line[: _ERROR_WIDTH - 1] + "…"
            extras.append(palette.paint(f"✗ {first_line}", "red", "bold"))
        lines.append(" ".join(cells) + ("  " + "  ".join(extras) if extras else ""))
    return lines


def _header(records: Sequence[LogRecord], palette: Palette) -> str:
    root = next((r for r in records if r.log_id == r.trace_id), None)
    _, span = _span(records)
    first = min(records, key=lambda r: r.start_time)
    parts = [
        palette.paint(f"trace {sanitize(first.trace_id)}", "bold"),
        f"{first.start_time:%Y-%m-%d %H:%M:%S} UTC",
        f"{len(records)} log{'s' if len(records) != 1 else ''}",
        # The trace's whole span: a streamed child may end after its root returned.
        format_duration(span),
    ]
    prompt = sum(r.prompt_tokens or 0 for r in records)
    output = sum(r.output_tokens or 0 for r in records)
    if any(r.prompt_tokens is not None or r.output_tokens is not None for r in records):
        parts.append(_tokens(prompt, output))
    costs = [c for c in (total_cost(r) for r in records) if c is not None]
    if costs:
        parts.append(palette.paint(format_cost(sum(costs)), "green"))
    errors = sum(1 for r in records if r.error)
    if errors:
        parts.append(palette.paint(f"✗ {errors} error{'s' if errors != 1 else ''}", "red", "bold"))
    if root is None:
        parts.append(palette.paint("(root not stored yet)", "yellow"))
    head = root or first
    labels = [("session", head.session_id), ("user", head.user)]
    labels += [("tag", tag) for tag in head.tags or ()]
    parts.extend(
        palette.paint(sanitize(f"{name} {value}"), "cyan") for name, value in labels if value
    )
    return "  ".join(parts)


def render_trace(
    records: Sequence[LogRecord], *, palette: Palette | None = None, full: bool = False
) -> list[str]:
    """Return a trace's lines: a header, the tree and, with ``full``, each log's details.

    The details are the log id and times, the prompt details, inputs, messages (as a chat),
    output, metadata and the whole error.

    .. versionadded:: 0.1.0
    """
    if not records:
        return []
    palette = palette or Palette(False)
    lines = [_header(records, palette)]
    tree = render_tree(records, palette)
    if not full:
        return lines + ["  " + line for line in tree]
    children = _children(records)
    for line, (_, cont, record) in zip(tree, _walk(records), strict=True):
        lines.append("  " + line)
        pad = "  " + cont + ("│  " if record.log_id in children else "   ")
        lines.extend(pad + detail for detail in _details(record, palette))
    return lines


def _json(value: Any) -> list[str]:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= 100:
        return [text]
    return json.dumps(value, ensure_ascii=False, indent=2, default=str).splitlines()


def _output_lines(text: str) -> list[str]:
    """A tool's dict or list result (stored as JSON text) shown as data; other text as is."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, (dict, list)):
            return _json(value)
    return text.splitlines() or [""]


def _field(label: str, body: list[str], palette: Palette, style: str = "dim") -> list[str]:
    """``label`` then the first body line (``body`` is never empty), the rest aligned under it."""
    head = palette.paint(f"{label:<9}", style)
    out = [f"{head} {sanitize(body[0])}"]
    out.extend(" " * 10 + sanitize(line) for line in body[1:])
    return out


def _content(message: ChatMessage) -> list[str]:
    lines: list[str] = []
    if isinstance(message.content, str):
        lines.extend(message.content.splitlines() or [""])
    elif message.content:
        for part in message.content:
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                lines.extend(str(part["text"]).splitlines())
            else:
                lines.append(json.dumps(part, ensure_ascii=False, default=str))
    for call in message.tool_calls or []:
        lines.append(f"→ {call.function.name}({call.function.arguments or ''})")
    if message.tool_call_id:
        lines.insert(0, f"[result of {message.tool_call_id}]")
    return lines or [""]


def _chat(messages: Sequence[ChatMessage], palette: Palette) -> list[str]:
    out = []
    for message in messages:
        role = message.role + (f" {message.name}" if message.name else "")
        if message.thinking:
            out.append(palette.paint(f"  (thinking) {sanitize(message.thinking)}", "dim"))
        content = [sanitize(line) for line in _content(message)]
        out.append(f"  {palette.paint(f'{role:<10}', 'cyan')} {content[0]}")
        out.extend(" " * 13 + line for line in content[1:])
    return out


def _details(record: LogRecord, palette: Palette) -> list[str]:
    lines = [
        palette.paint(
            f"log {sanitize(record.log_id)}  {record.start_time:%H:%M:%S.%f}"[:-3]
            + (f" → {record.end_time:%H:%M:%S.%f}"[:-3] if record.end_time else ""),
            "dim",
        )
    ]
    if record.prompt is not None:
        lines += _field("prompt", _json(record.prompt.model_dump(exclude_none=True)), palette)
    if record.inputs:
        lines += _field("inputs", _json(record.inputs), palette)
    if record.messages:
        lines.append(palette.paint("messages", "dim"))
        lines += _chat(record.messages, palette)
    if record.output_message is not None:
        lines.append(palette.paint("reply", "dim"))
        lines += _chat([record.output_message], palette)
    elif record.output is not None:
        lines += _field("output", _output_lines(record.output), palette)
    if record.finish_reason:
        lines += _field("finish", [record.finish_reason], palette)
    metadata = {k: v for k, v in record.metadata.items() if k != ERROR_TRACEBACK_KEY}
    if metadata:
        lines += _field("metadata", _json(metadata), palette)
    if record.error:
        lines += _field("error", record.error.splitlines() or [""], palette, "red")
    traceback = record.metadata.get(ERROR_TRACEBACK_KEY)
    if isinstance(traceback, str) and traceback:
        lines += _field("traceback", traceback.splitlines(), palette, "red")
    return lines

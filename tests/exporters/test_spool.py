"""The HttpExporter spool: a durable JSONL FIFO shared by threads and processes."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from promptrail import LogRecord
from promptrail._record.encode import dump_json
from promptrail.exporters import _spool
from promptrail.exporters._spool import Spool, default_spool_path, line_id, whole

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(log_id: str, **fields: Any) -> LogRecord:
    """Return a finished record."""
    return LogRecord(
        log_id=log_id, path="p", trace_id=log_id, start_time=T0, created_at=T0, **fields
    )


def _append_many(path: str, prefix: str, n: int) -> None:
    spool = Spool(path)
    for i in range(n):
        spool.append([record(f"{prefix}{i}")])


class TestSpool:
    def test_keeps_order_and_survives_a_new_object(self, tmp_path: Path) -> None:
        """Records come back oldest first, also through another Spool on the same file."""
        Spool(tmp_path / "s.jsonl").append([record("a"), record("b")])
        Spool(tmp_path / "s.jsonl").append([record("c")])
        spool = Spool(tmp_path / "s.jsonl")
        assert [r.log_id for r in spool.read()] == ["a", "b", "c"]
        assert len(spool) == 3
        assert spool

    def test_empty_and_missing_spool_is_falsy(self, tmp_path: Path) -> None:
        """A missing file is an empty spool; removing everything deletes the file."""
        spool = Spool(tmp_path / "sub" / "s.jsonl")
        assert not spool
        assert spool.read() == []
        spool.append([record("a")])
        spool.remove({"a"})
        assert not spool
        assert not spool.path.exists()

    def test_remove_keeps_records_appended_meanwhile(self, tmp_path: Path) -> None:
        """Removal is by log_id and re-reads the file, so newer records are kept in order."""
        spool = Spool(tmp_path / "s.jsonl")
        spool.append([record("a"), record("b")])
        sent = [r.log_id for r in spool.read()]
        Spool(tmp_path / "s.jsonl").append([record("c")])  # another writer, mid-send
        spool.remove(sent)
        assert [r.log_id for r in spool.read()] == ["c"]

    def test_torn_line_is_skipped_with_a_warning(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A half-written last line (a crash mid-append) does not hide the good records."""
        spool = Spool(tmp_path / "s.jsonl")
        spool.append([record("a")])
        with spool.path.open("a") as f:
            f.write('{"log_id": "b", "pa')
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert [r.log_id for r in spool.read()] == ["a"]
        assert "unreadable line" in caplog.text
        spool.append([record("c")])
        spool.remove({"a"})
        assert [r.log_id for r in spool.read()] == ["c"]

    def test_size_limit_drops_the_oldest_down_to_the_low_water_mark(self, tmp_path: Path) -> None:
        """Past max_bytes the oldest go, down to 90 %: the next appends are plain again."""
        line = len(dump_json(record("r00"))) + 1
        limit = 10 * line
        spool = Spool(tmp_path / "s.jsonl")
        assert spool.append([record(f"r{i:02}") for i in range(8)], max_bytes=limit) == 0
        assert spool.append([record(f"r{i:02}") for i in range(8, 12)], max_bytes=limit) == 3
        assert [r.log_id for r in spool.read()] == [f"r{i:02}" for i in range(3, 12)]
        assert spool.path.stat().st_size == 9 * line
        inode = spool.path.stat().st_ino
        assert spool.append([record("r12")], max_bytes=limit) == 0
        assert spool.path.stat().st_ino == inode  # appended, not rewritten
        assert spool.append([record("r13")], max_bytes=None) == 0  # no limit
        assert len(spool) == 11

    def test_batch_over_the_limit_keeps_its_newest(self, tmp_path: Path) -> None:
        """A batch larger than the limit keeps its newest records that fit."""
        line = len(dump_json(record("b0"))) + 1
        spool = Spool(tmp_path / "s.jsonl")
        batch = [record(f"b{i}") for i in range(5)]
        assert spool.append(batch, max_bytes=4 * line) == 2  # 90 % of 4 lines: 3 kept
        assert [r.log_id for r in spool.read()] == ["b2", "b3", "b4"]
        assert spool.append([record("b5")], max_bytes=line - 1) == 4  # nothing fits
        assert not spool
        assert not spool.path.exists()

    @pytest.mark.parametrize("blob", [5000, 3700])  # over the limit; over 90 % of it
    def test_a_record_too_large_to_keep_is_dropped_alone(self, tmp_path: Path, blob: int) -> None:
        """One huge record does not push out the older records that fit."""
        spool = Spool(tmp_path / "s.jsonl")
        spool.append([record("s0"), record("s1")])
        huge = record("huge", metadata={"blob": "x" * blob})
        size = len(dump_json(huge)) + 1
        assert size > 3600  # more than 90 % of the limit
        assert (size > 4000) is (blob == 5000)  # the smaller one is under the limit itself
        assert spool.append([huge], max_bytes=4000) == 1
        assert [r.log_id for r in spool.read()] == ["s0", "s1"]

    def test_torn_lines_are_dropped_at_every_rewrite(self, tmp_path: Path) -> None:
        """A line cut by a crash, even one whose id can be read, goes at the next rewrite."""
        line = len(dump_json(record("c0"))) + 1
        torn = dump_json(record("gone"))[:30]
        assert line_id(torn) == "gone"
        assert not whole(torn)
        spool = Spool(tmp_path / "s.jsonl")
        spool.path.write_bytes(torn)
        # 90 % of 3 lines keeps 2: c0 is dropped (and counted); the torn line is not a record
        assert spool.append([record("c0"), record("c1"), record("c2")], max_bytes=3 * line) == 1
        assert spool.path.read_bytes().count(b"\n") == 2
        assert [r.log_id for r in spool.read()] == ["c1", "c2"]
        with spool.path.open("ab") as f:
            f.write(torn)
        spool.remove({"c1"})
        assert spool.path.read_bytes() == dump_json(record("c2")) + b"\n"

    def test_line_id_is_read_without_validation(self) -> None:
        """Ids come from the line's start, or from its JSON; a line cut before its id has none."""
        assert line_id(dump_json(record("abc"))) == "abc"
        assert line_id(dump_json(record('q"uote'))) == 'q"uote'  # escaped: parsed as JSON
        assert line_id(b'{"path": "p", "log_id": "late"}') == "late"
        assert line_id(b'{"log_id": "b", "pa') is None
        assert line_id(b'{"log_i') is None
        assert line_id(b"[1, 2]") is None
        assert line_id(b'{"log_id": 5}') is None
        assert whole(dump_json(record("abc")))
        assert not whole(b'{"log_id": 5}')

    def test_entries_parse_only_what_is_read(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sender that stops after the first record parses one line, not the whole spool."""
        spool = Spool(tmp_path / "s.jsonl")
        spool.append([record(f"e{i}") for i in range(50)])
        parsed: list[bytes] = []
        validate = LogRecord.model_validate_json

        def counting(line: bytes) -> LogRecord:
            parsed.append(line)
            return validate(line)

        monkeypatch.setattr(_spool.LogRecord, "model_validate_json", counting)
        line, first = next(iter(spool.entries()))
        assert first is not None
        assert (line_id(line), first.log_id) == ("e0", "e0")
        assert len(parsed) == 1

    def test_remove_and_len_do_not_parse_records(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Removal matches ids read from each line; the count is a line count."""
        spool = Spool(tmp_path / "s.jsonl")
        spool.append([record(f"r{i}") for i in range(5)])

        def refuse(line: bytes) -> LogRecord:
            raise AssertionError("parsed")

        with monkeypatch.context() as patch:
            patch.setattr(_spool.LogRecord, "model_validate_json", refuse)
            spool.remove({"r0", "r1", "r3"})
            assert len(spool) == 2
        assert [r.log_id for r in spool.read()] == ["r2", "r4"]

    def test_unreadable_line_is_reported_and_removed_by_its_bytes(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A whole line that is not a record yields no record; removing its bytes drops it."""
        spool = Spool(tmp_path / "s.jsonl")
        spool.append([record("ok")])
        bad = b'{"log_id":"ok","path":1}'  # the same id as a good record: only bytes tell
        with spool.path.open("ab") as f:
            f.write(bad + b"\n")
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            entries = list(spool.entries())
        assert [(line, r is not None) for line, r in entries] == [
            (dump_json(record("ok")), True),
            (bad, False),
        ]
        assert "unreadable line" in caplog.text
        spool.remove((), [bad])
        assert [r.log_id for r in spool.read()] == ["ok"]

    def test_concurrent_threads_lose_nothing(self, tmp_path: Path) -> None:
        """Appends and removals from several threads keep every record not removed."""
        path = str(tmp_path / "s.jsonl")
        threads = [
            threading.Thread(target=_append_many, args=(path, f"t{k}-", 30)) for k in range(4)
        ]
        for thread in threads:
            thread.start()
        removed: set[str] = set()
        spool = Spool(path)
        while any(t.is_alive() for t in threads):
            batch = {r.log_id for r in spool.read()[:5]}
            spool.remove(batch)
            removed |= batch
        for thread in threads:
            thread.join()
        left = {r.log_id for r in spool.read()}
        assert left | removed == {f"t{k}-{i}" for k in range(4) for i in range(30)}
        assert not left & removed

    def test_concurrent_processes_lose_nothing(self, tmp_path: Path) -> None:
        """Two processes appending to one spool (flock) keep every line whole and in order."""
        path = str(tmp_path / "s.jsonl")
        code = (
            "import sys, datetime\n"
            "from promptrail import LogRecord\n"
            "from promptrail.exporters._spool import Spool\n"
            "t = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)\n"
            "spool = Spool(sys.argv[1])\n"
            "for i in range(40):\n"
            "    rid = f'{sys.argv[2]}{i}'\n"
            "    spool.append([LogRecord(log_id=rid, path='p' * 5000, trace_id=rid,"
            " start_time=t, created_at=t)])\n"
        )
        procs = [subprocess.Popen([sys.executable, "-c", code, path, f"p{k}-"]) for k in range(2)]
        for proc in procs:
            assert proc.wait(10) == 0
        ids = [r.log_id for r in Spool(path).read()]
        assert sorted(ids) == sorted(f"p{k}-{i}" for k in range(2) for i in range(40))
        assert [i for i in ids if i.startswith("p0-")] == [f"p0-{i}" for i in range(40)]

    def test_file_is_private_to_the_user(self, tmp_path: Path) -> None:
        """The spool holds log contents: it is created readable by its owner only."""
        spool = Spool(tmp_path / "s.jsonl")
        spool.append([record("a")])
        assert spool.path.stat().st_mode & 0o077 == 0

    def test_default_path_hashes_the_url(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """The default file is in the cache directory, named by a hash of the URL."""
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        path = default_spool_path("http://user:pw@host/v5")
        assert path.parent == tmp_path / "promptrail"
        assert "pw" not in path.name
        assert path.name.startswith("spool-")
        assert path == default_spool_path("http://user:pw@host/v5/")

"""Log ids: UUIDv7 text, sortable by start time, unique per process."""

from __future__ import annotations

import random
import uuid

from promptrail._runtime.ids import UuidV7Ids


def reference_id(base: int, start_ns: int, seq: int) -> str:
    """The id spelled out bit by bit (RFC 9562 layout), through the uuid module."""
    ms, sub_ns = divmod(start_ns, 1_000_000)
    sub = (sub_ns * 4096) // 1_000_000
    low = (base + seq) & ((1 << 62) - 1)
    value = (ms & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | sub << 64 | 0b10 << 62 | low
    return str(uuid.UUID(int=value))


class TestUuidV7Ids:
    """The default id generator."""

    def test_ids_match_the_rfc_layout(self) -> None:
        """Version 7, variant 0b10, the millisecond time and the random part, bit for bit."""
        ids = UuidV7Ids()
        rng = random.Random(7)
        for _ in range(20_000):
            start_ns = rng.randrange(0, 1 << 63)
            seq = rng.randrange(0, 1 << 40)
            text = ids.format_id(start_ns, seq)
            assert text == reference_id(ids._base, start_ns, seq)
            parsed = uuid.UUID(text)
            assert parsed.version == 7
            assert parsed.variant == uuid.RFC_4122

    def test_ids_sort_by_start_time(self) -> None:
        """Later starts give larger ids, also within one millisecond."""
        ids = UuidV7Ids()
        starts = [1_767_225_600_000_000_000 + k * 300_000 for k in range(50)]
        # Sequence numbers falling while time rises: the order can only come from the time bits.
        made = [ids.format_id(ns, 50 - i) for i, ns in enumerate(starts)]
        assert made == sorted(made)
        assert len(set(made)) == len(made)

    def test_reseed_changes_the_random_part_only(self) -> None:
        """A forked child's ids differ from the parent's for the same time and sequence."""
        ids = UuidV7Ids()
        before = ids.format_id(1_767_225_600_123_456_789, 5)
        ids.reseed()
        after = ids.format_id(1_767_225_600_123_456_789, 5)
        assert before[:19] == after[:19]
        assert before != after  # 62 random bits: equal only with probability 2**-62

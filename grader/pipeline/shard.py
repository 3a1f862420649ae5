"""Which students a shard grades: ``--shard K/N`` takes a deterministic 1/N of a batch.

A student belongs to shard ``1 + h mod N``, where ``h`` is a SHA-256 of the student's
feedback-folder name folded to lower case. The hash depends on the student alone, so
adding or removing other files never moves a student to another shard; and ids whose
feedback folders could clash on a case-insensitive disk (``Ada``, ``ada``) always land in
the same shard, which keeps their folder names what a single run gives them.
Shards are numbered from 1 (``1/4`` … ``4/4``); Kubernetes' ``JOB_COMPLETION_INDEX``
counts from 0, so a Job passes ``$((JOB_COMPLETION_INDEX + 1))/N``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from grader.outputs.feedback import safe_name

PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K/N needs 1 <= K <= N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"`` -> ``Shard(2, 4)``.

        Raises:
            ValueError: not of the form ``K/N`` with ``1 <= K <= N``.
        """
        match = PATTERN.match(text)
        if not match:
            raise ValueError(f"--shard {text!r}: expected K/N, e.g. 1/4")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, student: str) -> bool:
        """Whether ``student`` is graded by this shard."""
        return shard_of(student, self.count) == self.index


def shard_of(student: str, count: int) -> int:
    """The shard (1 … ``count``) a student belongs to."""
    key = safe_name(student).lower().encode("utf-8", "backslashreplace")
    return 1 + int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % count

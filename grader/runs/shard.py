"""Which students a shard grades: ``--shard K/N`` takes a deterministic 1/N of a batch.

A student belongs to shard ``1 + h mod N``, where ``h`` is a SHA-256 of the student's
feedback-folder name folded to lower case. The hash depends on the student alone, so
adding or removing other files never moves a student to another shard; and ids whose
feedback folders could clash on a case-insensitive disk (``Ada``, ``ada``) always land in
the same shard, which keeps their folder names what a single run gives them.
Shards are numbered from 1 (``1/4`` … ``4/4``); Kubernetes' ``JOB_COMPLETION_INDEX``
counts from 0, so a Job passes ``$((JOB_COMPLETION_INDEX + 1))/N``.

A shard is always graded whole into a folder of its own: a folder that already holds a batch
(an earlier run's shard, with another seed, other submissions or another N) is refused
(:func:`stale_shard_folder`), never merged into.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.outputs.feedback import safe_name

if TYPE_CHECKING:
    from grader.outputs.results import Previous

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


def stale_shard_folder(kept: Previous, shard: Shard) -> str:
    """Why shard ``shard`` is not graded into ``kept.out``, which already holds a batch."""
    meta = kept.meta
    labs = meta.get("labs")
    held = [
        f"shard {meta['shard']}" if meta.get("shard") else "not a shard",
        f"seed {meta.get('seed', '?')}",
        f"labs {', '.join(map(str, labs)) if isinstance(labs, list) else '?'}",
        f"submissions {meta.get('submissions', '?')}",
        f"started {meta.get('started', '?')}",
    ]
    return (
        f"{kept.out} already holds results ({'; '.join(held)}): shard {shard} is graded whole "
        "into a folder of its own and never merged into an earlier run's results. Remove "
        f"{kept.out} (or pass --replace) and grade the shard again"
    )

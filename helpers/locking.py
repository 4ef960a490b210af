"""One advisory file lock (flock) for everything that must not run twice at once: a broker's or a
cluster's start/stop, and one Kafka version's jar fetch, across processes sharing a KFP_HOME."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def flocked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    On Windows, which has no ``fcntl``, the block runs unlocked (the small race is accepted)."""
    with open(path, "w") as fh:
        try:
            import fcntl
        except ImportError:
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

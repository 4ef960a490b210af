"""Disk faults in one line: a read-only folder, a folder we may not write, a full disk.

The jar cache and the broker's run directories live under one folder (``KFP_HOME``). When
writing there fails, the raw ``OSError`` (errno 30, 13, 28) says little to a learner; these
helpers turn it into a :class:`~helpers.errors.StorageError` naming the folder, the cause and
the fix, and measure free space for the doctor and before a start.
"""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from .errors import DiskFullError, StorageError

# What a workbook home needs: two Kafka versions' jars (about 56 MB each) and a broker's data
# and log for the lessons; below this the doctor warns and a start refuses.
NEEDED_MB = 200
# Below this a broker is not started at all: its log segments and indexes would fill it at once.
START_MIN_MB = 50

_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_READ_ONLY = (errno.EROFS,)
_DENIED = (errno.EACCES, errno.EPERM)
FULL_MARKERS = ("No space left on device", "Disk quota exceeded", "ENOSPC")


def existing_parent(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (free space is a property of the disk, not the file)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_mb(path: Path) -> float:
    """Megabytes free on the disk holding ``path`` (or its nearest existing parent)."""
    return shutil.disk_usage(existing_parent(path)).free / 1e6


def mentions_full_disk(text: str) -> bool:
    """True when a log or a tool's output says the disk was full."""
    return any(marker in text for marker in FULL_MARKERS)


def full_disk_error(path: Path, doing: str) -> DiskFullError:
    """The one-line error for a full disk while ``doing`` something in ``path``."""
    where = existing_parent(path)
    return DiskFullError(
        f"the disk holding {where} is full ({free_mb(where):.0f} MB free) while {doing}",
        f"free some space there (the workbook needs about {NEEDED_MB} MB), or point KFP_HOME "
        "at a disk with room: export KFP_HOME=/path/with/space",
    )


def storage_error(exc: OSError, path: Path, doing: str) -> StorageError | None:
    """A StorageError for a write that failed because of the disk or its permissions, else None."""
    if exc.errno in _FULL:
        return full_disk_error(path, doing)
    where = Path(exc.filename) if exc.filename else Path(path)
    if exc.errno in _READ_ONLY:
        return StorageError(
            f"{where} is on a read-only file system, so the workbook cannot write there while {doing}",
            "point KFP_HOME at a writable folder (export KFP_HOME=~/kafka-from-python), or remount that disk read-write",
        )
    if exc.errno in _DENIED:
        return StorageError(
            f"no permission to write {where} while {doing}",
            f"point KFP_HOME at a folder you own (export KFP_HOME=~/kafka-from-python), or fix its owner: "
            f"sudo chown -R {os.environ.get('USER', '$USER')} {existing_parent(where)}",
        )
    return None


def check_writable(folder: Path, doing: str) -> None:
    """Create ``folder`` if needed and prove a file can be written in it, or raise a StorageError."""
    probe = Path(folder) / f".write-test-{os.getpid()}"
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        err = storage_error(exc, Path(folder), doing)
        if err is None:
            raise
        raise err from None

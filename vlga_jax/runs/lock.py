"""A run directory's lock: one process runs a directory at a time.

An exclusive, non-blocking ``flock`` on ``<dir>/lock``, which holds the pid of its
process; the kernel releases it when that process dies, so a lock file left by a killed
run never blocks.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK = "lock"

# Lock files this process holds: resolved directory -> open descriptor (flocked).
_HELD: dict[str, int] = {}


def lock(directory: Path) -> None:
    """Claim ``directory`` for this process; refuse if another live process holds it.

    An exclusive, non-blocking ``flock`` on ``directory/lock``: atomic, and released by
    the kernel when its process dies, so a lock file left by a killed run (a stale lock)
    is taken over. This process claiming a directory again (e.g. an interrupted `evolve`
    called again) keeps its lock. Released by `unlock` when the run finishes.
    """
    key = os.path.realpath(directory)
    path = directory / LOCK
    if key in _HELD:
        try:
            if os.fstat(_HELD[key]).st_ino == os.stat(path).st_ino:
                return
        except FileNotFoundError:
            pass
        os.close(_HELD.pop(key))  # the directory was replaced since: lock it afresh
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").split()
            os.close(fd)
            pid = f" (pid {holder[0]})" if holder else ""
            raise ValueError(f"{directory} is in use by another process{pid}: wait for "
                             "it to finish, or stop it first") from None
        try:  # the file may have been unlinked (a run finishing) between open and flock
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _HELD[key] = fd
            return
        os.close(fd)
    raise ValueError(f"{directory}: could not take {path} (it keeps changing)")


def unlock(directory: Path) -> None:
    """Release and remove this process's lock on ``directory`` (if it holds one)."""
    fd = _HELD.pop(os.path.realpath(directory), None)
    if fd is None:
        return
    (directory / LOCK).unlink(missing_ok=True)
    os.close(fd)

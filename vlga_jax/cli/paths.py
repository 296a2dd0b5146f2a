"""Paths a command will write, checked before any work.

A directory to write into, or a file to write, is refused with a ValueError naming the
option when it cannot be written.
"""

from __future__ import annotations

import os
from pathlib import Path


def check_writable_dir(path: str, what: str) -> None:
    """Refuse ``path`` as a directory to write into: a file, or under one, or unwritable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{what} {path} is a file, not a directory: choose a directory")
    existing = p
    while not existing.exists():  # the nearest existing ancestor is created from
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{what} {path}: {existing} is not a directory")
    if not _can_write_in(existing):
        raise ValueError(f"{what} {path}: {existing} is not writable: choose another "
                         "directory")


def check_writable_file(path: str, what: str) -> None:
    """Refuse ``path`` as a file to write: a directory, or in an unwritable directory."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{what} {path} is a directory: name a file")
    parent = p.parent
    if not parent.is_dir():
        raise ValueError(f"{what} {path}: {parent} is not a directory")
    if not _can_write_in(parent):
        raise ValueError(f"{what} {path}: {parent} is not writable")


def _can_write_in(directory: Path) -> bool:
    """Whether a file can be created in ``directory`` (tried: permissions alone do not
    tell for root or read-only file systems)."""
    import tempfile

    if not os.access(directory, os.W_OK | os.X_OK):
        return False
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".vlga-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True

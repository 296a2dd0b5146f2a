"""Compiled layer programs persisted across runs: a later search skips trace, lower and
backend compile for every program it has seen before on this machine.

An entry is one serialized executable (`jax.experimental.serialize_executable`) with its
argument and output tree structures, in ``DIR/<digest>.exe``. The digest covers the
program's key, the package's `PROGRAM_VERSION`, the jax and jaxlib versions, the
backend, the device kind and ``XLA_FLAGS``, so an executable is never loaded where it was
not built for. Writes are atomic (a temporary file renamed). A damaged or unloadable
entry is deleted and recompiled, never an error. The store keeps at most ``max_bytes``:
the least recently used entries (by modification time, refreshed on every load) go
first. Clear it by deleting the folder.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import warnings

import jax
import jaxlib
from jax.experimental import serialize_executable

# Raise when the layer programs' code changes what an unchanged key compiles to.
PROGRAM_VERSION = 1
SUFFIX = ".exe"
DEFAULT_MAX_BYTES = 1 << 30


def _environment() -> tuple:
    device = jax.devices()[0]
    return (PROGRAM_VERSION, jax.__version__, jaxlib.__version__, device.platform,
            device.device_kind, os.environ.get("XLA_FLAGS", ""))


class ProgramStore:
    """Serialized executables in ``directory``, at most ``max_bytes`` of them."""

    def __init__(self, directory: str, max_bytes: int = DEFAULT_MAX_BYTES):
        self.directory = directory
        self.max_bytes = int(max_bytes)
        os.makedirs(directory, exist_ok=True)
        self._environment = repr(_environment())

    def path(self, key) -> str:
        digest = hashlib.sha256(f"{self._environment}|{key!r}".encode()).hexdigest()[:40]
        return os.path.join(self.directory, digest + SUFFIX)

    def load(self, key):
        """The executable stored for ``key``, or None (absent, stale or damaged)."""
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                stored_key, payload, in_tree, out_tree = pickle.load(f)
            if stored_key != repr(key):
                raise ValueError("digest collision")
            compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
        except FileNotFoundError:
            return None
        except Exception:  # damaged or unloadable: compile it again (and overwrite)
            try:
                os.remove(path)
            except OSError:
                pass
            return None
        try:
            os.utime(path)  # recently used
        except OSError:
            pass
        return compiled

    def save(self, key, compiled) -> None:
        """Store ``compiled`` for ``key`` (best effort: a full disk only warns)."""
        try:
            payload, in_tree, out_tree = serialize_executable.serialize(compiled)
            data = pickle.dumps((repr(key), payload, in_tree, out_tree))
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path(key))
        except (OSError, pickle.PicklingError, TypeError, ValueError) as error:
            warnings.warn(f"run.compile_cache_dir: could not store a compiled program in "
                          f"{self.directory} ({error})", stacklevel=2)
            return
        self._trim()

    def _trim(self) -> None:
        entries = []
        for name in os.listdir(self.directory):
            if name.endswith(SUFFIX):
                try:
                    st = os.stat(os.path.join(self.directory, name))
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, name))
        total = sum(size for _, size, _ in entries)
        for _, size, name in sorted(entries):
            if total <= self.max_bytes:
                break
            try:
                os.remove(os.path.join(self.directory, name))
                total -= size
            except OSError:
                pass

    def size_bytes(self) -> int:
        """Bytes the store holds now."""
        return sum(os.path.getsize(os.path.join(self.directory, n))
                   for n in os.listdir(self.directory) if n.endswith(SUFFIX))

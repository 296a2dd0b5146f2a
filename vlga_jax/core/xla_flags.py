"""Run-to-run determinism on GPUs: XLA flags set before JAX starts its backend.

On GPUs, XLA picks convolution and matmul algorithms by timing them (autotuning), and
some reductions add with atomics, so two runs of one seed could train different
networks: measured on one H100, the default search's phase bests were 0.5972/0.9583 in
one run and 0.6042/0.9653 in the next. ``import vlga_jax`` therefore appends
`DETERMINISTIC_GPU_FLAGS` to ``XLA_FLAGS``: deterministic algorithms and reductions, and
no timing-based choice of algorithm. CPUs and TPUs ignore them. A flag that ``XLA_FLAGS``
already names keeps the user's value; ``VLGA_GPU_DETERMINISM=0`` adds none (faster
kernels may be chosen, and results may then differ between runs).

The flags act only if they are set before JAX starts its backend (its first array or
device query): import vlga_jax before using JAX, or set them yourself. `evolve` warns on
a GPU when the backend had started first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

DETERMINISTIC_GPU_FLAGS = ("--xla_gpu_deterministic_ops=true", "--xla_gpu_autotune_level=0")
OPT_OUT = "VLGA_GPU_DETERMINISM"


def add_deterministic_gpu_flags(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Append to ``environ["XLA_FLAGS"]`` each of `DETERMINISTIC_GPU_FLAGS` it does not
    name yet, unless ``environ[OPT_OUT] == "0"``; the flags added."""
    if environ.get(OPT_OUT, "1").strip() == "0":
        return []
    flags = environ.get("XLA_FLAGS", "")
    missing = [f for f in DETERMINISTIC_GPU_FLAGS if f.split("=")[0] not in flags]
    if missing:
        environ["XLA_FLAGS"] = " ".join([flags, *missing]).strip()
    return missing


def _backend_started() -> bool:
    """Whether JAX had started a backend (so XLA_FLAGS were already read); never imports
    JAX itself."""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - a JAX without the private module
        return False
    return bool(xla_bridge.backends_are_initialized())


ADDED = add_deterministic_gpu_flags()
#: True when flags were added after JAX's backend had started (they then do nothing).
TOO_LATE = bool(ADDED) and _backend_started()


def warning() -> str | None:
    """A warning for `evolve` on a GPU whose backend started before the flags were set,
    else None."""
    if not TOO_LATE:
        return None
    return ("JAX's GPU backend started before vlga_jax was imported, so XLA_FLAGS lacks "
            f"{' '.join(DETERMINISTIC_GPU_FLAGS)} and two runs of one seed may differ: "
            "import vlga_jax before using JAX, or set those flags in XLA_FLAGS "
            f"({OPT_OUT}=0 silences this)")

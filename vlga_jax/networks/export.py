"""Export the best network to one portable file and load it back for inference.

The file is an ``.npz`` (no pickle): ``params/<path>`` and ``batch_stats/<path>`` hold
the arrays (``/``-joined names as in `vlga_jax.networks.model.Network`); ``meta`` holds UTF-8
JSON with the architecture, the input normalisation (per-channel ``mean``/``std`` in raw
pixel units, ``resize``, and ``scaling`` where it is not "standardize": "unit" stores
mean 0 and std the largest raw pixel value), the decoded genome and the accuracies.
`ExportedModel.preprocess` computes ``(x - mean) / std`` either way.

    model = vlga_jax.load_model("model.npz")
    logits = model.apply(model.variables, model.preprocess(raw_images))  # jit-able
    classes = model.predict(raw_images)                                  # int32[N]

`vlga_jax.Result.predict` / ``logits`` / ``as_model()`` are the same for a search's
result in memory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vlga_jax.core import checkpoint as ckpt
from vlga_jax.networks.architecture import Architecture

FORMAT = 1


def _flat(tree: dict, prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = np.asarray(v)
    return out


def _nest(flat: dict[str, np.ndarray], prefix: str) -> dict:
    out: dict = {}
    for name, value in flat.items():
        if not name.startswith(prefix):
            continue
        *parents, leaf = name[len(prefix):].split("/")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def result_summary(result) -> dict:
    """A JSON-able summary of a `Result` (everything but the parameters)."""
    return {
        "format": FORMAT,
        "config": result.config.to_dict(),
        "best": result.description,
        "architecture": result.architecture.describe(),
        "param_count": result.param_count,
        "flops_per_example": result.flops,
        "search_fitness": result.search_fitness,
        "val_accuracy": result.val_accuracy,
        "test_accuracy": result.test_accuracy,
        "phase_best": list(result.phase_best),
        "stop_reason": result.stop_reason,
        "totals": result.totals,
        "objectives": list(result.objectives),
        "top": [c.summary(result.objectives) for c in result.top],
        **({"pareto": [c.summary(result.objectives) for c in result.pareto]}
           if result.pareto else {}),
        **({"top_k_retrained": [dataclasses.asdict(r) for r in result.top_k_retrained]}
           if result.top_k_retrained else {}),
    }


def save_model(path: str | os.PathLike, result, dataset=None) -> Path:
    """Write ``result``'s trained network to ``path`` (.npz), atomically.

    The normalisation stored (so that `predict` takes raw images) is ``dataset``'s when
    given, else the result's own (``result.mean``/``std``); with neither, inputs must
    already be normalised.
    """
    path = Path(path)
    norm = dataset if dataset is not None else result
    mean, std = getattr(norm, "mean", None), getattr(norm, "std", None)
    arrays: list = []
    meta = {
        "format": FORMAT,
        "architecture": ckpt.encode(result.architecture, arrays),
        "description": result.description,
        "num_classes": result.architecture.num_classes,
        "input_shape": list(result.architecture.input_shape),
        "normalization": None if mean is None else {
            "mean": np.asarray(mean).tolist(), "std": np.asarray(std).tolist(),
            "resize": list(result.config.data.resize) if result.config.data.resize else None,
            **_scaling_entry(getattr(norm, "scaling", result.config.data.scaling))},
        "search_fitness": result.search_fitness,
        "val_accuracy": result.val_accuracy,
        "test_accuracy": result.test_accuracy,
        "dataset": getattr(dataset, "name", result.config.data.name),
    }
    files = {**_flat(result.params, "params/"), **_flat(result.batch_stats or {}, "batch_stats/"),
             "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
    _write_npz(tmp, files)
    os.replace(tmp, path)
    return path


def _scaling_entry(scaling: str) -> dict:
    """``{"scaling": name}`` for a model whose inputs are not standardised (mean/std hold
    it: "unit" is mean 0, std the largest raw pixel value); {} for "standardize", so files
    of standardised models stay as they were (a file without it is standardised)."""
    return {} if scaling == "standardize" else {"scaling": scaling}


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """What ``np.savez`` writes, byte for byte the same for the same arrays: entries in
    sorted order with a fixed timestamp (numpy stamps the current time, and a resumed
    run's parameter dicts may come back in another order)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arrays[name]), allow_pickle=False)


@dataclasses.dataclass(eq=False)
class ExportedModel:
    """What inference needs: ``apply(variables, images) -> logits f32[N, classes]``.

    ``apply`` is a pure function of normalised images f32[N, H, W, C] (jit it freely);
    ``preprocess`` turns raw images (the dataset's units, e.g. 0..16 for digits) into
    them; ``predict`` does both and returns int32[N] classes.
    """

    architecture: Architecture
    params: dict
    batch_stats: dict
    apply: Callable
    mean: np.ndarray | None
    std: np.ndarray | None
    resize: tuple[int, int] | None
    metadata: dict

    @property
    def variables(self) -> dict:
        v = {"params": self.params}
        if self.batch_stats:
            v["batch_stats"] = self.batch_stats
        return v

    def preprocess(self, images) -> np.ndarray:
        """Raw images (N, H, W[, C]) -> normalised f32 (N, H, W, C) at the model's size."""
        from vlga_jax.data.pixels import resize_images, standardize

        x = np.asarray(images)
        h, w, c = self.architecture.input_shape
        if x.ndim == 3 and c == 1:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] != c:
            raise ValueError(f"images must be (N, H, W, {c})"
                             + (" or (N, H, W)" if c == 1 else "") + f", got {np.shape(images)}")
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise ValueError(f"images must be integer or float, got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            bad = int(np.count_nonzero((~np.isfinite(x)).reshape(len(x), -1).any(axis=1)))
            raise ValueError(f"images hold NaN or inf pixels ({bad} of {len(x)} images): "
                             "no class can be predicted for them; fix or drop them")
        if x.shape[1:3] != (h, w):
            if self.resize is None:
                raise ValueError(f"images must be {h}x{w}, got {x.shape[1]}x{x.shape[2]}")
            x = resize_images(x, (h, w))
        if self.mean is None:
            return x.astype(np.float32)
        return standardize(x, self.mean, self.std)

    def logits(self, images, batch_size: int = 1024) -> np.ndarray:
        """f32[N, classes] for raw images."""
        import jax

        x = self.preprocess(images)
        fn = jax.jit(self.apply)
        return np.concatenate([np.asarray(fn(self.variables, x[i:i + batch_size]))
                               for i in range(0, len(x), batch_size)]
                              or [np.zeros((0, self.architecture.num_classes), np.float32)])

    def predict(self, images, batch_size: int = 1024) -> np.ndarray:
        """int32[N] predicted classes for raw images."""
        return np.argmax(self.logits(images, batch_size), axis=-1).astype(np.int32)


def from_result(result) -> ExportedModel:
    """``result``'s network (a `vlga_jax.Result`) as an `ExportedModel`, in memory: what
    `load_model` returns for the file `save_model` writes with its dataset."""
    from vlga_jax.networks.model import Network

    arch = result.architecture
    net, knobs = Network(arch.shape_key()), arch.knobs()

    def apply(variables, images):
        return net.apply(variables, images, knobs)

    resize = result.config.data.resize
    return ExportedModel(
        architecture=arch, params=result.params, batch_stats=result.batch_stats or {},
        apply=apply, mean=result.mean, std=result.std,
        resize=None if resize is None else tuple(resize),
        metadata=result_summary(result))


def _check_arrays(files: dict, arch: Architecture) -> None:
    """Every parameter and batch statistic the architecture needs, at its shape, finite."""
    shape_key = arch.shape_key()
    want = {**_flat_shapes(shape_key.param_shapes(), "params/"),
            **_flat_shapes(shape_key.stats_shapes(), "batch_stats/")}
    missing = sorted(set(want) - set(files))
    extra = sorted(set(files) - set(want))
    if missing or extra:
        raise ValueError(f"arrays do not match the architecture (missing {missing[:3]}, "
                         f"unexpected {extra[:3]})")
    for name, shape in want.items():
        a = files[name]
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"{name} has shape {a.shape}, the architecture needs {shape}")
        if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
            raise ValueError(f"{name} is not finite floats")


def _flat_shapes(tree: dict, prefix: str) -> dict[str, tuple]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat_shapes(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = tuple(v)
    return out


def load_model(path: str | os.PathLike) -> ExportedModel:
    """Load a file written by `save_model` / ``vlga export``."""
    from vlga_jax.networks.model import Network

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: a directory, not a model file (vlga export DIR --to FILE "
                         "writes one)")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with z:
            files = {k: z[k] for k in z.files}
        meta = json.loads(files.pop("meta").tobytes().decode())
        if not isinstance(meta, dict):
            raise ValueError("its meta is not a JSON object")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such model file") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, RuntimeError) as err:  # what a damaged zip raises
        raise ValueError(f"{path}: not a vlga model file, or damaged ({type(err).__name__}: "
                         f"{err}); export it again with vlga export") from err
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: model format {meta.get('format')!r}, expected {FORMAT}")
    try:
        arch = ckpt.decode(meta["architecture"], [])
        if not isinstance(arch, Architecture):
            raise TypeError(f"decodes to {type(arch).__name__}")
        net, knobs = Network(arch.shape_key()), arch.knobs()
        norm = meta["normalization"]
        _check_arrays(files, arch)
    except (KeyError, TypeError, ValueError, AttributeError, ImportError) as err:
        raise ValueError(f"{path}: damaged model file ({type(err).__name__}: {err}); export "
                         "it again with vlga export") from err

    def apply(variables, images):
        return net.apply(variables, images, knobs)

    return ExportedModel(
        architecture=arch, params=_nest(files, "params/"),
        batch_stats=_nest(files, "batch_stats/"), apply=apply,
        mean=None if norm is None else np.asarray(norm["mean"], np.float32),
        std=None if norm is None else np.asarray(norm["std"], np.float32),
        resize=None if norm is None or not norm["resize"] else tuple(norm["resize"]),
        metadata=meta)

"""tensorflow-datasets read without TensorFlow, from array_record files in ``data_dir``.

It finds a prepared dataset and reads its splits as raw numpy arrays. Nothing is
downloaded; `DatasetNotPrepared` says how to prepare one elsewhere. tensorflow_datasets
is imported only inside the functions that read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vlga_jax.data.pixels import CHUNK, resize_images

# Dataset names served without tensorflow-datasets.
EMBEDDED = ("digits",)

_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_NAME_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9_]+)(?:/(?P<config>[A-Za-z0-9_.\-]+))?(?::(?P<version>\d+\.\d+\.\d+))?$"
)


class DatasetNotPrepared(FileNotFoundError):
    """A tensorflow-datasets dataset is not prepared (as array_record) in ``data_dir``."""


def default_data_dir() -> Path:
    """``$TFDS_DATA_DIR`` if set, else ``~/tensorflow_datasets``."""
    return Path(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets").expanduser()


def _build_command(name: str, root: Path) -> str:
    return f"tfds build {name} --file_format=array_record --data_dir={root}"


def _not_prepared(name: str, root: Path, detail: str) -> DatasetNotPrepared:
    return DatasetNotPrepared(
        f"tensorflow-datasets dataset {name!r} is not prepared in {root} ({detail}). "
        "Nothing is downloaded at run time. On a machine with internet (and TensorFlow, "
        "which tfds uses to encode images while building), run:\n"
        f"    {_build_command(name, root)}\n"
        f"then copy the {name.split('/')[0].split(':')[0]}/ folder it writes into {root} "
        "on this machine (or point data_dir / TFDS_DATA_DIR at a directory that holds it)."
    )


def _versions(d: Path) -> list[Path]:
    """Prepared version directories under ``d``, highest version first."""
    if not d.is_dir():
        return []
    found = [
        p
        for p in d.iterdir()
        if p.is_dir() and _VERSION_RE.match(p.name) and (p / "dataset_info.json").is_file()
    ]
    return sorted(found, key=lambda p: tuple(int(v) for v in p.name.split(".")), reverse=True)


def _default_config(base: str) -> str | None:
    try:
        import tensorflow_datasets as tfds

        cls = tfds.builder_cls(base)
    except Exception:
        return None
    if getattr(cls, "DEFAULT_BUILDER_CONFIG_NAME", None):
        return cls.DEFAULT_BUILDER_CONFIG_NAME
    configs = getattr(cls, "BUILDER_CONFIGS", None) or []
    return configs[0].name if configs else None


def _is_known_tfds(base: str) -> bool:
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return True
    try:
        tfds.builder_cls(base)
    except Exception:  # DatasetNotFoundError, or a builder module that fails to import
        return False
    return True


def check_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir`` (None: `default_data_dir`), expanded; ValueError if it is a file."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if root.exists() and not root.is_dir():
        raise ValueError(f"data_dir {root} is a file, not a directory: point it (--data-dir, "
                         "data.data_dir or TFDS_DATA_DIR) at the directory that holds "
                         "prepared tensorflow-datasets")
    return root


def find_prepared(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Find the prepared array_record directory of ``name`` by looking at the files.

    ``name`` is ``base[/config][:version]``; the highest prepared version wins, and the
    builder's default config where several are prepared. Returns ``(version_dir,
    full_name)`` with ``full_name`` = ``base[/config]:version``.

    Raises:
      DatasetNotPrepared: nothing usable under ``data_dir/base``.
      ValueError: a malformed or unknown name, or an ambiguous config.
    """
    root = check_data_dir(data_dir)
    m = _NAME_RE.match(name)
    if m is None:
        raise ValueError(
            f"unknown dataset name {name!r}: expected one of {EMBEDDED} or a "
            "tensorflow-datasets name like 'cifar10', 'emnist/digits' or 'cifar10:3.0.2'"
        )
    base, config, version = m["base"], m["config"], m["version"]
    base_dir = root / base
    if config is None and not _versions(base_dir) and base_dir.is_dir():
        configs = sorted(p.name for p in base_dir.iterdir() if _versions(p))
        if len(configs) == 1:
            config = configs[0]
        elif configs:
            config = _default_config(base)
            if config not in configs:
                raise ValueError(
                    f"dataset {name!r} has several prepared configs in {base_dir}: {configs}; "
                    f"name one, e.g. '{base}/{configs[0]}'"
                )
    config_dir = base_dir / config if config else base_dir
    candidates = _versions(config_dir)
    if version is not None:
        candidates = [p for p in candidates if p.name == version]
    if not candidates:
        if not _is_known_tfds(base):
            raise ValueError(
                f"unknown dataset name {name!r}: not one of {EMBEDDED}, not a "
                f"tensorflow-datasets builder, and not prepared in {root}"
            )
        searched = config_dir / (version or "<version>")
        raise _not_prepared(name, root, f"no dataset_info.json under {searched}")
    version_dir = candidates[0]
    if not any(".array_record-" in p.name for p in version_dir.iterdir()):
        kinds = sorted(
            {
                p.name.split(".")[1].split("-")[0]
                for p in version_dir.iterdir()
                if p.name.startswith(f"{base}-") and "." in p.name
            }
        )
        raise _not_prepared(
            name,
            root,
            f"{version_dir} holds no array_record files"
            + (f" (found {', '.join(kinds)}; reading those needs TensorFlow)" if kinds else ""),
        )
    full = f"{base}/{config}:{version_dir.name}" if config else f"{base}:{version_dir.name}"
    return version_dir, full


def read_tfds(
    name: str,
    data_dir,
    *,
    image_key: str,
    label_key: str,
    resize: tuple[int, int] | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None, int | None,
           np.dtype]:
    """Read ``train`` and (if present) ``test`` as raw arrays, plus the class count and
    the dtype the images are stored in (before any resize)."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    version_dir, full = find_prepared(name, root)

    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(full, data_dir=os.fspath(root))
        features = builder.info.features
        splits = set(builder.info.splits.keys())
    except Exception as e:
        raise _not_prepared(
            name, root, f"tensorflow-datasets could not open {version_dir}: {e}"
        ) from None
    for key in (image_key, label_key):
        if key not in features:
            raise ValueError(
                f"dataset {name!r} has no feature {key!r}; its features are "
                f"{sorted(features.keys())} (pass image_key= / label_key=)"
            )
    if "train" not in splits:
        raise ValueError(f"dataset {name!r} has no 'train' split; its splits are {sorted(splits)}")
    num_classes = getattr(features[label_key], "num_classes", None)

    stored = []

    def read(split: str) -> tuple[np.ndarray, np.ndarray]:
        source = builder.as_data_source(split=split)
        getitems = getattr(source, "__getitems__", None)
        xs, ys = [], []
        for start in range(0, len(source), CHUNK):
            idx = list(range(start, min(len(source), start + CHUNK)))
            records = getitems(idx) if getitems else [source[i] for i in idx]
            stored.append(np.asarray(records[0][image_key]).dtype)
            xs.append(_stack_images([r[image_key] for r in records], resize, name))
            ys.append(np.asarray([r[label_key] for r in records]))
        if not xs:
            raise ValueError(f"dataset {name!r} split {split!r} is empty")
        return np.concatenate(xs), np.concatenate(ys)

    return read("train"), (read("test") if "test" in splits else None), num_classes, stored[0]


def _stack_images(images: Sequence[np.ndarray], resize, name: str) -> np.ndarray:
    """``(N, H, W, C)`` from N ``(H, W[, C])`` images, resized if ``resize`` is given."""
    images = [np.asarray(im) for im in images]
    images = [im[..., None] if im.ndim == 2 else im for im in images]
    if len({im.shape for im in images}) == 1:
        batch = np.stack(images)
        return batch if resize is None else resize_images(batch, resize)
    if resize is None:
        raise ValueError(
            f"dataset {name!r} has images of different shapes "
            f"(e.g. {images[0].shape}, {images[-1].shape}); pass resize=(H, W)"
        )
    return np.concatenate([resize_images(im[None], resize) for im in images])

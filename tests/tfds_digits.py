"""Real tensorflow-datasets builders over scikit-learn's digits, for offline tests.

``prepare(data_dir)`` writes them as array_record without TensorFlow and without
network: images are PNG-encoded with Pillow (tfds would use TensorFlow for numpy
images) and nothing is downloaded.
"""

from __future__ import annotations

import io
import os

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

NUM_TRAIN = 1437  # of 1797: the rest is the 'test' split


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (1797, 8, 8, 1) in 0..16 and int64 labels (1797,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.uint8)[..., None], digits.target.astype(np.int64)


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image[..., 0], mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _info(builder: tfds.core.GeneratorBasedBuilder) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=builder,
        description="scikit-learn digits as a tfds dataset (tests only).",
        features=tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(8, 8, 1), dtype=np.uint8),
                "label": tfds.features.ClassLabel(num_classes=10),
            }
        ),
        supervised_keys=("image", "label"),
    )


class DigitsTfdsTest(tfds.core.GeneratorBasedBuilder):
    """Splits 'train' (first 1437) and 'test' (last 360), laid out like cifar10."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return _info(self)

    def _split_generators(self, dl_manager):
        return {
            "train": self._generate_examples(0, NUM_TRAIN),
            "test": self._generate_examples(NUM_TRAIN, 1797),
        }

    def _generate_examples(self, start: int, stop: int):
        x, y = digits_arrays()
        for i in range(start, stop):
            yield i, {"image": _png(x[i]), "label": int(y[i])}


class DigitsTfdsTestConfigs(DigitsTfdsTest):
    """Configs 'with_test' (default: train + test) and 'train_only' (all 1797 in train)."""

    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="with_test"),
        tfds.core.BuilderConfig(name="train_only"),
    ]

    def _split_generators(self, dl_manager):
        if self.builder_config.name == "train_only":
            return {"train": self._generate_examples(0, 1797)}
        return super()._split_generators(dl_manager)


def prepare(data_dir: str | os.PathLike, builder_cls=DigitsTfdsTest, config=None) -> str:
    """Write ``builder_cls`` (``config``) as array_record under ``data_dir``; returns its dir."""
    tfds.display_progress_bar(False)
    builder = builder_cls(data_dir=os.fspath(data_dir), config=config)
    builder.download_and_prepare(
        file_format="array_record",
        download_dir=os.path.join(os.fspath(data_dir), "downloads"),
        download_config=tfds.download.DownloadConfig(
            try_download_gcs=False, manual_dir=os.fspath(data_dir)
        ),
    )
    return os.fspath(builder.data_dir)

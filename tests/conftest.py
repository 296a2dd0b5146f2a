"""Shared fixtures: a tiny, fixed digits dataset and its device-resident arrays.

Everything is small on purpose (8x8 images, a few hundred examples): XLA compiles on a
loaded 2-core CPU take seconds per training program, so tests share data and programs.
"""

import os

# Tests are compile-bound (tiny networks, a few steps): XLA:CPU's backend optimisations
# cost more compile time than they save in training here (measured: the suite ran ~30%
# faster). Every result a test compares is computed under the same flags; subprocesses
# inherit them.
os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()

import jax  # noqa: E402  (after XLA_FLAGS: jax reads them once)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Exactness tests compare float results; on GPUs, f32 matmuls and convs default to TF32.
jax.config.update("jax_default_matmul_precision", "highest")

TINY_TRAIN = 96  # training images on the device for trainer tests (3 batches of 32)
TINY_EVAL = 32  # validation images (one evaluation batch of 32)
BATCH = 32


@pytest.fixture(scope="session")
def digits_dataset():
    """`Dataset.from_arrays` on the first 500 scikit-learn digits (train 320/val 80/test 100)."""
    from sklearn.datasets import load_digits

    from vlga_jax.data.datasets import Dataset

    digits = load_digits()
    x = digits.images[:500].astype(np.uint8)[..., None]
    y = digits.target[:500].astype(np.int64)
    return Dataset.from_arrays(x, y, name="digits-tiny", val_fraction=0.2, test_fraction=0.2,
                               seed=0)


@pytest.fixture(scope="session")
def device_data(digits_dataset):
    """`DeviceData` with 96 training and 32 validation images, evaluation batch 32."""
    from vlga_jax.training.trainer import DeviceData

    ds = digits_dataset
    return DeviceData.create(ds.train_x[:TINY_TRAIN], ds.train_y[:TINY_TRAIN],
                             ds.val_x[:TINY_EVAL], ds.val_y[:TINY_EVAL], eval_batch=BATCH)

"""Model files (`vlga_jax.networks.export`): the input normalisation they store."""

import types

import jax
import numpy as np
import pytest

from vlga_jax.config import Config, DataConfig
from vlga_jax.data.datasets import load_dataset
from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
from vlga_jax.networks.export import load_model, save_model
from vlga_jax.networks.model import Network
from vlga_jax.networks.params import init_params


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny digits network saved with each scaling: {scaling: (dataset, result, path)}."""
    arch = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 3, True),), "max"),))
    params, stats = init_params(jax.random.key(0), arch.shape_key())
    out = {}
    for scaling in ("standardize", "unit"):
        dataset = load_dataset("digits", scaling=scaling)
        result = types.SimpleNamespace(
            architecture=arch, description="tiny", params=params, batch_stats=stats,
            config=Config(data=DataConfig(scaling=scaling)), mean=dataset.mean,
            std=dataset.std, search_fitness=0.5, val_accuracy=0.5, test_accuracy=0.5)
        path = save_model(tmp_path_factory.mktemp(scaling) / "model.npz", result, dataset)
        out[scaling] = dataset, result, path
    return out


def in_memory_logits(result, images) -> np.ndarray:
    arch = result.architecture
    variables = {"params": result.params, "batch_stats": result.batch_stats}
    return np.asarray(Network(arch.shape_key()).apply(variables, images, arch.knobs()))


def raw_test_images(dataset) -> np.ndarray:
    """The test split in raw digits units (0..16), as uint8."""
    return np.rint(dataset.test_x * dataset.std + dataset.mean).astype(np.uint8)


def test_unit_model_file_scales_raw_images_like_the_search(saved):
    dataset, result, path = saved["unit"]
    model = load_model(path)
    assert model.metadata["normalization"]["scaling"] == "unit"
    np.testing.assert_array_equal(model.std, [16.0])
    raw = raw_test_images(dataset)
    np.testing.assert_array_equal(model.preprocess(raw), dataset.test_x)
    np.testing.assert_allclose(model.logits(raw), in_memory_logits(result, dataset.test_x),
                               rtol=1e-5, atol=1e-5)


def test_standardised_model_file_has_no_scaling_field_and_loads_as_before(saved):
    dataset, result, path = saved["standardize"]
    model = load_model(path)
    norm = model.metadata["normalization"]
    assert set(norm) == {"mean", "std", "resize"}  # the format of files written before
    raw = raw_test_images(dataset)
    want = (raw - np.float32(norm["mean"])) / np.float32(norm["std"])
    np.testing.assert_allclose(model.preprocess(raw), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.logits(raw), in_memory_logits(result, dataset.test_x),
                               rtol=1e-4, atol=1e-4)

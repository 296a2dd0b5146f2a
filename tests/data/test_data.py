"""Tests for vlga_jax.data.datasets: splits, normalisation, validation, and a real offline tfds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vlga_jax.data.datasets import (
    Dataset,
    DatasetNotPrepared,
    default_data_dir,
    find_prepared,
    iter_batches,
    load_dataset,
    resize_images,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def tfds_digits():
    """The helper module, whether tests/ is on sys.path or is a package."""
    try:
        import tfds_digits
    except ImportError:
        from tests import tfds_digits
    return tfds_digits


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A data_dir holding the digits tfds builders, prepared as array_record."""
    root = tmp_path_factory.mktemp("tfds")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFDS_DATA_DIR", os.fspath(root))
        helper = tfds_digits()
        helper.prepare(root)
        helper.prepare(root, helper.DigitsTfdsTestConfigs, "with_test")
        helper.prepare(root, helper.DigitsTfdsTestConfigs, "train_only")
    return root


def raw_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def toy(n_per_class=10, classes=3, shape=(4, 4, 2), seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    x = rng.integers(0, 256, size=(len(y), *shape), dtype=np.uint8)
    return x, y


# digits and the Dataset value -------------------------------------------------------------


def test_digits_shapes_and_split_sizes(digits):
    assert digits.name == "digits" and digits.num_classes == 10
    assert digits.image_shape == (8, 8, 1)
    assert len(digits.test_y) == round(0.2 * 1797)
    pool = 1797 - len(digits.test_y)
    assert len(digits.val_y) == round(0.1 * pool)
    assert len(digits.train_y) + len(digits.val_y) + len(digits.test_y) == 1797
    for x, y in [(digits.train_x, digits.train_y), (digits.val_x, digits.val_y)]:
        assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1) and y.dtype == np.int32
    assert digits.mean.dtype == np.float32 and digits.mean.shape == (1,)
    assert digits.std.dtype == np.float32 and digits.std.shape == (1,)
    assert digits.nbytes == sum(
        a.nbytes
        for a in (digits.train_x, digits.train_y, digits.val_x, digits.val_y)
        + (digits.test_x, digits.test_y, digits.mean, digits.std)
    )
    assert "digits" in digits.summary() and "val 144" in digits.summary()


def test_splits_are_disjoint_and_cover_the_source(digits):
    raw = raw_digits()[0].reshape(1797, -1)
    back = np.concatenate([digits.train_x, digits.val_x, digits.test_x]) * digits.std + digits.mean
    back = np.rint(back.reshape(1797, -1)).astype(np.int64)
    assert sorted(map(bytes, back.astype(np.uint8))) == sorted(map(bytes, raw.astype(np.uint8)))


def test_validation_is_stratified(digits):
    train_counts = np.bincount(digits.train_y, minlength=10)
    val_counts = np.bincount(digits.val_y, minlength=10)
    expected = 0.1 * (train_counts + val_counts)
    assert np.all(np.abs(val_counts - expected) <= 1)
    test_counts = np.bincount(digits.test_y, minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * np.bincount(raw_digits()[1], minlength=10)) <= 1)


def test_normalisation_uses_train_only(digits):
    np.testing.assert_allclose(digits.train_x.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(digits.train_x.std(axis=(0, 1, 2)), 1.0, atol=1e-5)
    x, y = toy(n_per_class=20, shape=(3, 3, 3))
    x = x.astype(np.float32) + np.array([0.0, 100.0, -50.0], np.float32)
    ds = Dataset.from_arrays(x, y, x[:6] + 1000.0, y[:6])
    np.testing.assert_allclose(ds.train_x.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(ds.train_x.std(axis=(0, 1, 2)), 1.0, atol=1e-4)
    raw_train = ds.train_x * ds.std + ds.mean
    np.testing.assert_allclose(ds.mean, raw_train.mean(axis=(0, 1, 2)), rtol=1e-4)
    assert (ds.test_x.mean(axis=(0, 1, 2)) > 5).all()


def test_normalize_new_images(digits):
    raw = raw_digits()[0][:5]
    a = digits.normalize(raw)
    b = digits.normalize(raw.astype(np.uint8)[..., None])
    assert a.shape == (5, 8, 8, 1) and a.dtype == np.float32
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, (raw[..., None] - digits.mean) / digits.std, rtol=1e-5)
    with pytest.raises(ValueError, match="images must be"):
        digits.normalize(np.zeros((2, 8, 8, 3)))


def test_seeded_determinism():
    a, b = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    c = load_dataset("digits", seed=4)
    for field in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y", "mean", "std"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.val_y, c.val_y) or not np.array_equal(a.val_x, c.val_x)


def test_val_fraction_is_configurable():
    ds = load_dataset("digits", val_fraction=0.25)
    pool = len(ds.train_y) + len(ds.val_y)
    assert len(ds.val_y) == round(0.25 * pool)


def test_subset_counts():
    ds = load_dataset("digits", subset=30)
    counts = np.bincount(ds.train_y, minlength=10) + np.bincount(ds.val_y, minlength=10)
    np.testing.assert_array_equal(counts, 30)
    np.testing.assert_array_equal(np.bincount(ds.val_y, minlength=10), 3)
    assert len(ds.test_y) == 359
    x, y = toy(n_per_class=5)
    small = Dataset.from_arrays(x, y, x, y, subset=100)
    assert len(small.train_y) + len(small.val_y) == 15


def test_subset_is_seeded():
    a, b = load_dataset("digits", subset=20, seed=1), load_dataset("digits", subset=20, seed=1)
    c = load_dataset("digits", subset=20, seed=2)
    np.testing.assert_array_equal(a.train_x, b.train_x)
    assert not np.array_equal(a.train_x, c.train_x)


def test_resize_shape_and_matches_jax():
    ds = load_dataset("digits", resize=(16, 12))
    assert ds.image_shape == (16, 12, 1)
    assert ds.train_x.shape[1:] == ds.val_x.shape[1:] == ds.test_x.shape[1:] == (16, 12, 1)
    np.testing.assert_allclose(ds.train_x.mean(), 0.0, atol=1e-5)
    assert load_dataset("digits", resize=4).image_shape == (4, 4, 1)

    import jax

    x = np.random.default_rng(0).random((3, 9, 7, 2), dtype=np.float32)
    for size in [(4, 5), (18, 14), (9, 3)]:
        want = jax.image.resize(x, (3, *size, 2), "linear")
        np.testing.assert_allclose(resize_images(x, size), np.asarray(want), atol=1e-5)


def test_from_arrays_rank3_gets_channel_axis_and_carves_test():
    x, y = toy(n_per_class=20, shape=(5, 5))
    ds = Dataset.from_arrays(x, y, name="toy", val_fraction=0.2)
    assert ds.name == "toy" and ds.num_classes == 3 and ds.image_shape == (5, 5, 1)
    assert len(ds.test_y) == 12 and len(ds.val_y) == 10 and len(ds.train_y) == 38
    np.testing.assert_array_equal(np.bincount(ds.test_y), 4)


def test_from_arrays_num_classes_larger_than_seen():
    x, y = toy()
    assert Dataset.from_arrays(x, y, x, y, num_classes=7).num_classes == 7


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(train_x=np.zeros((30, 4))), "rank"),
        (dict(train_x=np.zeros((30, 2, 2, 2, 1))), "rank"),
        (dict(train_y=np.zeros((30, 3))), "rank 1"),
        (dict(train_y=np.arange(29) % 3), "mismatched lengths"),
        (dict(train_y=np.r_[np.arange(29) % 3, -1]), "negative"),
        (dict(train_y=np.r_[np.arange(29) % 3, 9], num_classes=3), "out of range"),
        (dict(train_y=(np.arange(30) % 3) + 0.5), "integer"),
        (dict(train_x=np.full((30, 4, 4, 2), np.nan)), "NaN or inf"),
        (dict(train_x=np.full((30, 4, 4, 2), np.inf)), "NaN or inf"),
        (dict(train_x=np.zeros((0, 4, 4, 2)), train_y=np.zeros(0, int)), "empty"),
        (dict(test_x=np.zeros((5, 4, 4, 2))), "both test_x and test_y"),
        (dict(test_x=np.zeros((5, 4, 4, 2)), test_y=np.arange(4)), "mismatched lengths"),
        (dict(test_x=np.zeros((3, 4, 5, 2)), test_y=np.arange(3)), "different shapes"),
        (dict(test_x=np.zeros((3, 4, 4, 3)), test_y=np.arange(3)), "channel"),
        (dict(val_fraction=0.0), r"val_fraction must be in \(0, 1\)"),
        (dict(val_fraction=1.0), r"val_fraction must be in \(0, 1\)"),
        (dict(val_fraction=0.001), "validation split empty"),
        (dict(test_fraction=0.001), "test split empty"),
        (dict(train_y=np.r_[np.zeros(29, int), 1]), "fewer than 2 examples"),
        (dict(train_y=np.zeros(30, int)), "at least 2 classes"),
        (dict(subset=0), "subset"),
        (dict(resize=(0, 4)), "resize"),
        (dict(seed=-1), "seed"),
    ],
)
def test_from_arrays_rejects_bad_inputs(kwargs, match):
    x, y = toy(shape=(4, 4, 2))
    args = dict(train_x=x, train_y=y)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Dataset.from_arrays(**args)


def test_load_dataset_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset name"):
        load_dataset("not a name!", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset name 'no_such_dataset_xyz'"):
        load_dataset("no_such_dataset_xyz", data_dir=tmp_path)


def test_iter_batches():
    x, y = np.arange(10)[:, None], np.arange(10)
    chunks = list(iter_batches(x, y, 4))
    assert [len(cy) for _, cy in chunks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([cx for cx, _ in chunks])[:, 0], y)
    assert list(iter_batches(x[:0], y[:0], 4)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(iter_batches(x, y, 0))
    with pytest.raises(ValueError, match="different lengths"):
        list(iter_batches(x, y[:3], 2))


# tensorflow-datasets, offline ---------------------------------------------------------------


def test_tfds_dataset_loads_like_cifar10(tfds_dir):
    helper = tfds_digits()
    ds = load_dataset("digits_tfds_test", data_dir=tfds_dir, seed=0)
    assert ds.name == "digits_tfds_test" and ds.num_classes == 10
    assert ds.image_shape == (8, 8, 1)
    assert len(ds.test_y) == 1797 - helper.NUM_TRAIN
    assert len(ds.val_y) == round(0.1 * helper.NUM_TRAIN)
    assert len(ds.train_y) + len(ds.val_y) == helper.NUM_TRAIN
    x, y = helper.digits_arrays()
    # tfds shuffles examples when writing: compare as multisets of (image, label).
    raw_test = np.rint(ds.test_x * ds.std + ds.mean).astype(np.uint8)
    got = sorted(zip(map(bytes, raw_test), ds.test_y.tolist(), strict=True))
    want = sorted(
        zip(map(bytes, x[helper.NUM_TRAIN :]), y[helper.NUM_TRAIN :].tolist(), strict=True)
    )
    assert got == want
    np.testing.assert_allclose(ds.train_x.mean(), 0.0, atol=1e-5)
    assert "tensorflow" not in sys.modules


def test_tfds_configs_default_and_carved_test(tfds_dir):
    ds = load_dataset("digits_tfds_test_configs", data_dir=tfds_dir)
    assert len(ds.test_y) == 1797 - 1437
    carved = load_dataset("digits_tfds_test_configs/train_only", data_dir=tfds_dir, subset=50)
    assert len(carved.test_y) == round(0.2 * 1797)
    np.testing.assert_array_equal(
        np.bincount(carved.train_y, minlength=10) + np.bincount(carved.val_y, minlength=10), 50
    )
    path, full = find_prepared("digits_tfds_test_configs/train_only:1.0.0", tfds_dir)
    assert full == "digits_tfds_test_configs/train_only:1.0.0" and path.is_dir()


def test_tfds_resize_and_feature_keys(tfds_dir):
    ds = load_dataset("digits_tfds_test", data_dir=tfds_dir, resize=(12, 12))
    assert ds.image_shape == (12, 12, 1)
    with pytest.raises(ValueError, match="no feature 'img'"):
        load_dataset("digits_tfds_test", data_dir=tfds_dir, image_key="img")


def test_tfds_default_data_dir_from_env(tfds_dir, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", os.fspath(tfds_dir))
    assert default_data_dir() == Path(tfds_dir)
    assert load_dataset("digits_tfds_test").num_classes == 10
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert default_data_dir() == Path("~/tensorflow_datasets").expanduser()


def test_tfds_loads_from_files_in_a_fresh_process_without_tensorflow(tfds_dir):
    """No builder code registered, no TensorFlow, no tfds import at `import vlga_jax`."""
    code = (
        "import sys\n"
        "import vlga_jax.data.datasets as d\n"
        "assert 'tensorflow_datasets' not in sys.modules\n"
        f"ds = d.load_dataset('digits_tfds_test', data_dir={os.fspath(tfds_dir)!r})\n"
        "assert 'tensorflow' not in sys.modules\n"
        "print(len(ds.train_y), len(ds.val_y), len(ds.test_y))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1293", "144", "360"]


def test_not_prepared_error_names_directory_and_command(tmp_path):
    with pytest.raises(DatasetNotPrepared) as err:
        load_dataset("cifar10", data_dir=tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg
    assert f"tfds build cifar10 --file_format=array_record --data_dir={tmp_path}" in msg
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(ValueError, match="val_fraction"):
        load_dataset("cifar10", data_dir=tmp_path, val_fraction=2.0)


def test_not_prepared_when_only_incomplete_or_tfrecord(tmp_path):
    (tmp_path / "mnist" / "incomplete.ABC_3.0.1").mkdir(parents=True)
    with pytest.raises(DatasetNotPrepared, match="tfds build mnist"):
        load_dataset("mnist", data_dir=tmp_path)
    version_dir = tmp_path / "mnist" / "3.0.1"
    version_dir.mkdir()
    (version_dir / "dataset_info.json").write_text(json.dumps({"name": "mnist"}))
    (version_dir / "mnist-train.tfrecord-00000-of-00001").write_bytes(b"")
    with pytest.raises(DatasetNotPrepared, match="tfrecord; reading those needs TensorFlow"):
        load_dataset("mnist", data_dir=tmp_path)
    with pytest.raises(DatasetNotPrepared, match="mnist/9.9.9"):
        load_dataset("mnist:9.9.9", data_dir=tmp_path)


# scaling ------------------------------------------------------------------------------


def test_unit_scaling_divides_digits_by_16_without_centring(digits):
    unit = load_dataset("digits", scaling="unit")
    assert digits.scaling == "standardize" and unit.scaling == "unit"
    np.testing.assert_array_equal(unit.mean, [0.0])
    np.testing.assert_array_equal(unit.std, [16.0])
    for split in ("train", "val", "test"):
        x = getattr(unit, f"{split}_x")
        assert x.min() == 0.0 and x.max() == 1.0  # digits pixels are 0..16
        np.testing.assert_array_equal(getattr(unit, f"{split}_y"), getattr(digits, f"{split}_y"))
        raw = getattr(digits, f"{split}_x") * digits.std + digits.mean
        np.testing.assert_allclose(x * 16, raw, atol=1e-4)  # same images, divided by 16
    assert unit.train_x.mean() > 0.2  # not centred
    from vlga_jax.config import Config, DataConfig
    from vlga_jax.search.context import configured_dataset

    searched = configured_dataset(Config(data=DataConfig(scaling="unit")))
    np.testing.assert_array_equal(searched.train_x, unit.train_x)
    np.testing.assert_array_equal(unit.normalize(raw_digits()[0][:3]),
                                  (raw_digits()[0][:3, ..., None] / 16).astype(np.float32))


def test_unit_scaling_of_arrays_and_bad_values():
    x, y = toy(n_per_class=50, shape=(3, 3, 2))
    ds = Dataset.from_arrays(x, y, scaling="unit")
    assert 0.0 <= ds.train_x.min() and ds.train_x.max() <= 1.0
    np.testing.assert_array_equal(ds.std, [255.0, 255.0])
    standard = Dataset.from_arrays(x, y)
    np.testing.assert_array_equal(ds.train_y, standard.train_y)
    np.testing.assert_allclose(ds.train_x * 255, standard.train_x * standard.std + standard.mean,
                               atol=1e-3)
    scaled = Dataset.from_arrays(x.astype(np.float32), y, scaling="unit", pixel_max=255.0)
    np.testing.assert_array_equal(scaled.train_x, ds.train_x)
    with pytest.raises(ValueError, match="needs pixel_max"):
        Dataset.from_arrays(x.astype(np.float32), y, scaling="unit")
    with pytest.raises(ValueError, match=r"scaling must be one of \('standardize', 'unit'\)"):
        load_dataset("digits", scaling="minmax")
    with pytest.raises(ValueError, match="pixel_max must be a positive number"):
        Dataset.from_arrays(x, y, scaling="unit", pixel_max=0)


def test_unit_scaling_of_tfds_uint8_images(tfds_dir):
    ds = load_dataset("digits_tfds_test", data_dir=tfds_dir, scaling="unit", resize=(4, 4))
    np.testing.assert_array_equal(ds.std, [255.0])  # stored as uint8 (holding 0..16)
    assert ds.train_x.min() >= 0.0 and ds.train_x.max() <= 16 / 255 + 1e-6

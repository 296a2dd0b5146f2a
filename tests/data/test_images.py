"""`vlga_jax.data.images`: what `vlga predict` reads (arrays and PNG/JPEG files) and the
conversions to a model's input, with errors naming the file and what is accepted."""

import numpy as np
import pytest
from PIL import Image

from vlga_jax.data.images import read_images

GREY = (8, 8, 1)
COLOUR = (8, 8, 3)


def save(tmp_path, name, pixels, mode=None):
    path = tmp_path / name
    Image.fromarray(pixels, mode).save(path)
    return path


def test_grey_png_scaled_to_the_datasets_units(tmp_path):
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    images, notes = read_images([save(tmp_path, "a.png", pixels)], GREY, "digits")
    assert images.shape == (1, 8, 8, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(images[0, ..., 0],
                                  pixels.astype(np.float32) * np.float32(16 / 255))
    assert notes == ["1 image file scaled to 0..16 (digits's units)"]
    images, _ = read_images([save(tmp_path, "a.png", pixels)], GREY, "mnist")
    np.testing.assert_array_equal(images[0, ..., 0], pixels)  # 0..255 units


def test_colour_channels_converted_or_refused(tmp_path):
    grey_rgb = np.repeat(np.arange(64, dtype=np.uint8).reshape(8, 8, 1), 3, axis=-1)
    images, _ = read_images([save(tmp_path, "g.png", grey_rgb)], GREY, "x")
    np.testing.assert_array_equal(images[0, ..., 0], grey_rgb[..., 0])
    colour = grey_rgb.copy()
    colour[0, 0] = (255, 0, 0)
    with pytest.raises(ValueError, match=r"c\.png: a colour \(RGB\) image; the model "
                                         r"expects 1 channel"):
        read_images([save(tmp_path, "c.png", colour)], GREY, "x")
    # A grey image is a colour image with R = G = B.
    images, _ = read_images([save(tmp_path, "l.png", grey_rgb[..., 0])], COLOUR, "x")
    np.testing.assert_array_equal(images[0], grey_rgb)
    rgba = np.concatenate([grey_rgb, np.full((8, 8, 1), 255, np.uint8)], axis=-1)
    images, _ = read_images([save(tmp_path, "o.png", rgba)], COLOUR, "x")
    np.testing.assert_array_equal(images[0], grey_rgb)  # opaque: alpha dropped
    rgba[3, 3, 3] = 0
    with pytest.raises(ValueError, match=r"t\.png: has transparent pixels; the model "
                                         "expects 3 channels"):
        read_images([save(tmp_path, "t.png", rgba)], COLOUR, "x")
    with pytest.raises(ValueError, match=r"has 3 channels; the model expects 2"):
        read_images([save(tmp_path, "c.png", colour)], (8, 8, 2), "x")


def test_images_resized_16_bit_and_jpeg(tmp_path):
    big = np.full((32, 24), 200, np.uint8)
    images, notes = read_images([save(tmp_path, "big.jpg", big)], GREY, "x")
    assert images.shape == (1, 8, 8, 1)
    assert np.allclose(images, 200, atol=2)  # JPEG is lossy
    assert notes == ["1 image file scaled to 0..255 (x's units); 1 resized to 8x8"]
    deep = np.full((8, 8), 65535, np.uint16)
    images, _ = read_images([save(tmp_path, "deep.png", deep)], GREY, "digits")
    np.testing.assert_allclose(images, 16.0)
    # Several files, images and arrays alike, give one batch.
    np.save(tmp_path / "two.npy", np.zeros((2, 8, 8), np.float32))
    images, _ = read_images([tmp_path / "deep.png", tmp_path / "two.npy"], GREY, "digits")
    assert images.shape == (3, 8, 8, 1)


def test_arrays_npy_and_npz(tmp_path):
    raw = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8)
    np.save(tmp_path / "a.npy", raw)
    np.savez(tmp_path / "one.npz", anything=raw)
    np.savez(tmp_path / "named.npz", images=raw, labels=np.zeros(2))
    np.savez(tmp_path / "many.npz", a=raw, b=raw)
    for name in ("a.npy", "one.npz", "named.npz"):
        images, notes = read_images([tmp_path / name], GREY)
        np.testing.assert_array_equal(images, raw)
        assert notes == []
    with pytest.raises(ValueError, match=r"many\.npz: holds 2 arrays \(a, b\); vlga predict "
                                         "reads the array named 'images'"):
        read_images([tmp_path / "many.npz"], GREY)


@pytest.mark.parametrize("name, content, message", [
    ("x.txt", b"1 2 3", r"x\.txt: unsupported format '\.txt'; vlga predict reads \.npy or "
                        r"\.npz arrays, or \.png/\.jpg/\.jpeg images"),
    ("x", b"", r"unsupported format '\(no suffix\)'"),
    ("x.png", b"not a png", r"x\.png: not a readable PNG or JPEG image"),
    ("x.npy", b"not an array", r"x\.npy: not a readable \.npy array"),
    ("x.npz", b"PK\x03\x04 damaged", r"x\.npz: not a readable \.npz array"),
])
def test_unreadable_files_are_named(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_images([tmp_path / name], GREY)


def test_files_of_different_shapes_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((1, 8, 8)))
    np.save(tmp_path / "b.npy", np.zeros((1, 9, 9)))
    with pytest.raises(ValueError, match=r"b\.npy: images of shape \(9, 9\), but .*a\.npy "
                                         r"holds \(8, 8\)"):
        read_images([tmp_path / "a.npy", tmp_path / "b.npy"], GREY)
    with pytest.raises(ValueError, match="no such file"):
        read_images([tmp_path / "missing.png"], GREY)

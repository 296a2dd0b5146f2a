"""Read the images ``vlga predict`` classifies: arrays (.npy, .npz) or image files (PNG, JPEG).

`read_images(paths, input_shape, dataset)` returns raw images in the dataset's units,
ready for `ExportedModel.predict`:

- ``.npy``: one array (N, H, W) or (N, H, W, C), used as it is.
- ``.npz``: its array ``images``, or its only array.
- ``.png`` / ``.jpg`` / ``.jpeg``: one image per file, read with Pillow and converted to
  the model's input: transparency must be fully opaque (the alpha channel is dropped),
  a colour image for a one-channel model must be grey (R = G = B), a grey image for a
  three-channel model is repeated into R, G and B; pixels (0..255, or 0..65535 for
  16-bit PNGs) are scaled to the dataset's units (0..16 for digits, else 0..255) and
  the image is resized (bilinear, antialiased) to the model's height and width.

Anything else, or an image that cannot be converted, raises ValueError naming the file
and what is accepted.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

ARRAY_SUFFIXES = (".npy", ".npz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ACCEPTED = ".npy or .npz arrays, or .png/.jpg/.jpeg images"
# The largest raw pixel value of datasets whose images are not 0..255.
DATASET_MAX = {"digits": 16.0}


def read_images(paths, input_shape: tuple[int, int, int], dataset: str | None = None
                ) -> tuple[np.ndarray, list[str]]:
    """Images from ``paths`` (one or several files) as one array, and notes on what was
    converted (for the user).

    input_shape: the model's (H, W, C). Returns (N, H, W, C) float32 when any file is an
    image (arrays are then given a channel axis when C == 1), else the arrays as read,
    concatenated along N. Raises ValueError naming the file on an unsupported format, a
    damaged file or an image that cannot take the model's shape.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, str | os.PathLike) else paths)]
    for path in paths:
        if path.suffix.lower() not in ARRAY_SUFFIXES + IMAGE_SUFFIXES:
            raise ValueError(f"{path}: unsupported format {path.suffix or '(no suffix)'!r}; "
                             f"vlga predict reads {ACCEPTED}")
    has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in paths)
    units = DATASET_MAX.get(dataset or "", 255.0)
    parts, resized = [], []
    for path in paths:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image, size = read_image(path, input_shape, units)
            parts.append((path, image[None]))
            if size != tuple(input_shape[:2]):
                resized.append(path)
        else:
            array = read_array(path)
            if has_images and array.ndim == 3 and input_shape[2] == 1:
                array = array[..., None]
            parts.append((path, array))
    first_path, first = parts[0]
    for path, part in parts[1:]:
        if part.shape[1:] != first.shape[1:]:
            raise ValueError(f"{path}: images of shape {part.shape[1:]}, but {first_path} "
                             f"holds {first.shape[1:]}: give files of one shape")
    images = first if len(parts) == 1 else np.concatenate([p for _, p in parts])
    notes = []
    if has_images:
        n = sum(p.suffix.lower() in IMAGE_SUFFIXES for p in paths)
        h, w, _ = input_shape
        name = f" ({dataset}'s units)" if dataset else ""
        notes.append(f"{n} image file{'s' if n > 1 else ''} scaled to 0..{units:g}{name}"
                     + (f"; {len(resized)} resized to {h}x{w}" if resized else ""))
    return images, notes


def read_array(path: Path) -> np.ndarray:
    """The images of a .npy file, or of a .npz file's ``images`` (or only) array."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            if path.suffix.lower() == ".npz":
                raise ValueError("a .npy array named .npz; rename it to .npy")
            return loaded
        with loaded:
            names = list(loaded.files)
            if "images" in names or len(names) == 1:
                return loaded["images" if "images" in names else names[0]]
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"{path}: not a readable {path.suffix.lower()} array ({err})") from err
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise ValueError(f"{path}: holds {len(names)} arrays ({shown}); vlga predict reads the "
                     "array named 'images' or a file with one array (is this a model file? "
                     "it comes first: vlga predict MODEL IMAGES)")


def read_image(path: Path, input_shape: tuple[int, int, int], units: float
               ) -> tuple[np.ndarray, tuple[int, int]]:
    """One PNG/JPEG file as f32 (H, W, C) at the model's input shape and the dataset's
    units, and the file's own (height, width)."""
    from PIL import Image, UnidentifiedImageError

    h, w, c = input_shape
    try:
        with Image.open(path) as img:
            img.load()
            pixels, top = _pixels(img)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ValueError(f"{path}: not a readable PNG or JPEG image ({err})") from err
    k = pixels.shape[-1]
    if k != c and k in (2, 4):  # an alpha channel the model has no use for
        if not np.all(pixels[..., -1] == top):
            raise ValueError(f"{path}: has transparent pixels; the model expects {c} "
                             f"channel{'s' if c > 1 else ''} without transparency: flatten "
                             "it onto a background first")
        pixels, k = pixels[..., :-1], k - 1
    if k == 3 and c == 1:
        if not (np.array_equal(pixels[..., 0], pixels[..., 1])
                and np.array_equal(pixels[..., 0], pixels[..., 2])):
            raise ValueError(f"{path}: a colour (RGB) image; the model expects 1 channel "
                             "(greyscale): convert it first, e.g. "
                             "PIL.Image.open(path).convert('L')")
        pixels = pixels[..., :1]
    elif k == 1 and c == 3:
        pixels = np.repeat(pixels, 3, axis=-1)  # grey is a colour image with R = G = B
    elif k != c:
        raise ValueError(f"{path}: has {k} channels; the model expects {c}")
    image = pixels.astype(np.float32) * np.float32(units / top)
    size = image.shape[:2]
    if size != (h, w):
        from vlga_jax.data.pixels import resize_images

        image = resize_images(image[None], (h, w))[0]
    return image, size


def _pixels(img) -> tuple[np.ndarray, float]:
    """A Pillow image as (H, W, K) pixels (K: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) and
    the largest value its depth allows."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("L" if mode == "1" else "RGB")
    elif mode.startswith("I;16") or mode == "I":
        return np.asarray(img, np.float64)[..., None], 65535.0
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        raise ValueError(f"unsupported image mode {mode!r}")
    a = np.asarray(img)
    return (a[..., None] if a.ndim == 2 else a), 255.0

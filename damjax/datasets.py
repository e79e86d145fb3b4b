r"""Real data sets for training Dense Associative Memories, as pixels in [-1, 1].

* :func:`load_digits` — scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes,
  grey levels 0..16); the default real data set (no download).
* :func:`load_mnist` — MNIST from local files: the four IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
  optionally gzipped) or one ``mnist.npz`` (keys ``x_train, y_train, x_test, y_test``), from a path
  or the directory in the environment variable ``DAMJAX_MNIST_DIR``. Nothing is downloaded.
* :func:`train_test_split` — a (stratified) split drawn from a PRNG key.

Pixels are mapped linearly to [-1, 1]: ``x = 2 p / p_max - 1`` (``p_max`` = 16 for digits, 255 for
MNIST), the convention of Krotov & Hopfield 2016.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._custom_types import Array, Float, Int, PRNGKeyArray, is_concrete
from ._validation import as_real_float, check_finite_array, check_key

__all__ = [
    "Dataset",
    "load_digits",
    "load_mnist",
    "mnist_available",
    "read_idx",
    "to_pm1",
    "train_test_split",
    "MNIST_ENV",
]

MNIST_ENV = "DAMJAX_MNIST_DIR"

_IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class Dataset(eqx.Module):
    r"""Images with integer labels.

    **Arguments:**

    * ``images`` — (B, P) float array of pixels in [-1, 1] (flattened images).
    * ``labels`` — (B,) integer array of classes in ``0 .. n_classes - 1``.
    * ``n_classes`` — number of classes C.
    * ``image_shape`` — (height, width) with ``height * width = P`` (for pictures).

    **Raises:** ``ValueError`` if shapes disagree, ``image_shape`` does not multiply to P, or a
    label lies outside ``0 .. n_classes - 1``.
    """

    images: Float[Array, "B P"]
    labels: Int[Array, " B"]
    n_classes: int = eqx.field(static=True)
    image_shape: tuple[int, int] = eqx.field(static=True)

    def __init__(self, images, labels, n_classes: int, image_shape: tuple[int, int]):
        images = check_finite_array(as_real_float(images, "images", jnp.float32), "images")
        labels = jnp.asarray(labels)
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise TypeError(f"`labels` must be an integer array; got dtype {labels.dtype}")
        self.images = images
        self.labels = labels.astype(jnp.int32)
        self.n_classes = int(n_classes)
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))

    def __check_init__(self):
        if self.images.ndim != 2:
            raise ValueError(
                f"`images` must be a 2-D array (B, P) of flattened images; got shape "
                f"{self.images.shape}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"`labels` must have shape ({self.images.shape[0]},) to match `images`; got "
                f"{self.labels.shape}"
            )
        h, w = self.image_shape
        if h * w != self.images.shape[1]:
            raise ValueError(
                f"`image_shape` {self.image_shape} must multiply to the number of pixels "
                f"P = {self.images.shape[1]}"
            )
        if self.n_classes < 1:
            raise ValueError(f"`n_classes` must be >= 1; got {self.n_classes}")
        check_labels(self.labels, self.n_classes)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_pixels(self) -> int:
        return int(self.images.shape[1])

    def take(self, index) -> Dataset:
        """The subset at ``index`` (integer indices or a boolean mask)."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return Dataset(self.images[index], self.labels[index], self.n_classes, self.image_shape)


def check_labels(labels, n_classes: int, name: str = "labels", *, count: int | None = None):
    """Raise ``TypeError`` for labels that are not integers, ``ValueError`` if a (concrete)
    label lies outside ``0 .. n_classes - 1`` or (``count`` given) the labels are not ``count``
    (one per image)."""
    dtype = getattr(labels, "dtype", None)
    dtype = np.asarray(labels).dtype if dtype is None else dtype
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"`{name}` must be integers (class indices); got dtype {dtype}")
    if count is not None and np.shape(labels) != (count,):
        raise ValueError(
            f"`{name}` must have shape ({count},), one per image; got {np.shape(labels)}"
        )
    if is_concrete(labels):
        host = np.asarray(labels)
        if host.size and (host.min() < 0 or host.max() >= n_classes):
            bad = host[(host < 0) | (host >= n_classes)]
            raise ValueError(
                f"`{name}` must lie in 0 .. {n_classes - 1} (n_classes = {n_classes}); found "
                f"e.g. {bad.ravel()[:3].tolist()}"
            )
    return labels


def to_pm1(pixels, max_value: float) -> np.ndarray:
    r"""Map grey levels in ``[0, max_value]`` linearly to [-1, 1]: ``2 p / max_value - 1``.

    **Raises:** ``ValueError`` if ``max_value <= 0`` or a pixel lies outside ``[0, max_value]``.
    """
    if not max_value > 0:
        raise ValueError(f"`max_value` must be > 0; got {max_value}")
    p = np.asarray(pixels, dtype=np.float64)
    if p.size and (p.min() < 0 or p.max() > max_value):
        raise ValueError(f"`pixels` must lie in [0, {max_value}]; got range [{p.min()}, {p.max()}]")
    return (2.0 * p / max_value - 1.0).astype(np.float32)


def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits (1797 images, P = 64, 10 classes), pixels in [-1, 1].

    Use :func:`train_test_split` for a train/test split.
    """
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    return Dataset(to_pm1(d.data, 16.0), d.target.astype(np.int32), 10, (8, 8))


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST format; gzipped if the name ends in ``.gz``).

    Header: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions, then one
    big-endian int32 per dimension; then the data in C order.

    **Raises:** ``FileNotFoundError`` naming the file; ``ValueError`` on a malformed header or a
    size that does not match it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}i", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[code])
    body = raw[4 + 4 * ndim :]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(body) != expected:
        raise ValueError(
            f"{path}: IDX header announces shape {shape} ({expected} bytes) but the file holds "
            f"{len(body)} bytes of data"
        )
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _mnist_dir(path) -> Path:
    if path is None:
        env = os.environ.get(MNIST_ENV)
        if not env:
            raise FileNotFoundError(
                f"no MNIST location given: pass `path` (a directory with the four IDX files or "
                f"mnist.npz, or the .npz file itself) or set the environment variable {MNIST_ENV}"
            )
        path = env
    return Path(path).expanduser()


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        if (directory / name).is_file():
            return directory / name
    return None


def _mnist_arrays(path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    where = _mnist_dir(path)
    npz = where if where.suffix == ".npz" else where / "mnist.npz"
    if npz.is_file():
        with np.load(npz) as z:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z]
            if missing:
                raise KeyError(
                    f"{npz} lacks the arrays {missing} (expected x_train, y_train, x_test, y_test)"
                )
            return z["x_train"], z["y_train"], z["x_test"], z["y_test"]
    if where.suffix == ".npz":
        raise FileNotFoundError(f"MNIST file not found: {where}")
    if not where.is_dir():
        raise FileNotFoundError(f"MNIST directory not found: {where}")
    found = {}
    for key, stem in _IDX_NAMES.items():
        p = _find_idx(where, stem)
        if p is None:
            raise FileNotFoundError(
                f"MNIST file not found: {where / stem} (or {stem}.gz); expected the four IDX files "
                f"{', '.join(_IDX_NAMES.values())} or mnist.npz in {where}"
            )
        found[key] = read_idx(p)
    return found["train_images"], found["train_labels"], found["test_images"], found["test_labels"]


def mnist_available(path: str | Path | None = None) -> bool:
    """True when :func:`load_mnist` would find the files (at ``path`` or ``$DAMJAX_MNIST_DIR``)."""
    try:
        where = _mnist_dir(path)
    except FileNotFoundError:
        return False
    if where.suffix == ".npz":
        return where.is_file()
    if (where / "mnist.npz").is_file():
        return True
    return where.is_dir() and all(_find_idx(where, s) is not None for s in _IDX_NAMES.values())


def load_mnist(path: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """MNIST from local files as ``(train, test)`` (60000 / 10000 images of 28x28, pixels in [-1, 1]).

    **Arguments:** ``path`` — a directory holding the four IDX files (plain or ``.gz``) or
    ``mnist.npz``, or the path of an ``.npz`` file; default: the environment variable
    ``DAMJAX_MNIST_DIR``.

    **Returns:** ``(train, test)`` :class:`Dataset` objects.

    **Raises:** ``FileNotFoundError`` naming the missing file or variable; ``ValueError`` on
    malformed files (image/label count mismatch, pixels outside 0..255).
    """
    xtr, ytr, xte, yte = _mnist_arrays(path)
    out = []
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        x = np.asarray(x)
        y = np.asarray(y).astype(np.int64)
        if x.ndim != 3:
            raise ValueError(f"MNIST {split} images must have shape (B, H, W); got {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"MNIST {split} labels must have shape ({x.shape[0]},); got {y.shape}")
        h, w = x.shape[1:]
        out.append(Dataset(to_pm1(x.reshape(len(x), h * w), 255.0), y.astype(np.int32), 10, (h, w)))
    return out[0], out[1]


def train_test_split(
    data: Dataset, *, key: PRNGKeyArray, test_fraction: float = 0.2, stratify: bool = True
) -> tuple[Dataset, Dataset]:
    """Split ``data`` at random (drawn from ``key``) into ``(train, test)``.

    With ``stratify`` each class is split in the same proportion (rounded per class).

    **Raises:** ``ValueError`` if ``test_fraction`` is not in (0, 1).
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"`data` must be a damjax.datasets.Dataset; got {type(data).__name__}")
    check_key(key)
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"`test_fraction` must lie in (0, 1); got {test_fraction}")
    labels = np.asarray(data.labels)
    perm = np.asarray(jax.random.permutation(key, len(labels)))
    if stratify:
        test = []
        for c in range(data.n_classes):
            idx = perm[labels[perm] == c]
            test.append(idx[: int(round(test_fraction * len(idx)))])
        test_idx = np.sort(np.concatenate(test))
    else:
        test_idx = np.sort(perm[: int(round(test_fraction * len(labels)))])
    mask = np.zeros(len(labels), bool)
    mask[test_idx] = True
    train_idx = perm[~mask[perm]]  # keep the random order for training
    return data.take(train_idx), data.take(test_idx)

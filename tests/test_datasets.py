import gzip
import struct

import jax
import numpy as np
import pytest

from damjax import datasets


def _write_idx(path, array, gz=False):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}i", *array.shape)
    data = header + array.tobytes()
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def _fake_mnist(rng, n_train=12, n_test=7, h=5, w=4):
    xtr = rng.integers(0, 256, (n_train, h, w), dtype=np.uint8)
    ytr = rng.integers(0, 10, n_train, dtype=np.uint8)
    xte = rng.integers(0, 256, (n_test, h, w), dtype=np.uint8)
    yte = rng.integers(0, 10, n_test, dtype=np.uint8)
    return xtr, ytr, xte, yte


def _write_all(tmp_path, arrays, gz):
    names = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    for name, arr in zip(names, arrays):
        _write_idx(tmp_path / (name + (".gz" if gz else "")), arr, gz=gz)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    xtr, ytr, xte, yte = _fake_mnist(rng)
    _write_all(tmp_path, (xtr, ytr, xte, yte), gz)
    assert datasets.mnist_available(tmp_path)
    train, test = datasets.load_mnist(tmp_path)
    assert train.images.shape == (12, 20) and test.images.shape == (7, 20)
    assert train.image_shape == (5, 4)
    np.testing.assert_allclose(
        np.asarray(train.images), 2 * xtr.reshape(12, 20).astype(float) / 255.0 - 1, atol=1e-6
    )
    np.testing.assert_array_equal(np.asarray(train.labels), ytr)
    np.testing.assert_array_equal(np.asarray(test.labels), yte)
    assert float(train.images.min()) >= -1 and float(train.images.max()) <= 1


def test_mnist_env_var_and_npz(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    xtr, ytr, xte, yte = _fake_mnist(rng)
    np.savez(tmp_path / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    monkeypatch.setenv(datasets.MNIST_ENV, str(tmp_path))
    train, test = datasets.load_mnist()
    np.testing.assert_array_equal(np.asarray(test.labels), yte)
    np.testing.assert_allclose(
        np.asarray(test.images), 2 * xte.reshape(7, 20).astype(float) / 255.0 - 1, atol=1e-6
    )
    # the .npz file itself as the path
    train2, _ = datasets.load_mnist(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(np.asarray(train2.labels), np.asarray(train.labels))


def test_missing_mnist_file_named(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    xtr, ytr, xte, yte = _fake_mnist(rng)
    _write_idx(tmp_path / "train-images-idx3-ubyte", xtr)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", ytr)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", xte)
    assert not datasets.mnist_available(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        datasets.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        datasets.load_mnist(tmp_path / "nowhere.npz")
    monkeypatch.delenv(datasets.MNIST_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=datasets.MNIST_ENV):
        datasets.load_mnist()


def test_idx_malformed(tmp_path):
    p = tmp_path / "bad-idx"
    p.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">i", 3) + b"abc")
    with pytest.raises(ValueError, match="magic"):
        datasets.read_idx(p)
    p.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">i", 5) + b"abc")
    with pytest.raises(ValueError, match="announces"):
        datasets.read_idx(p)


def test_digits_range_and_split(getkey):
    d = datasets.load_digits()
    assert d.images.shape == (1797, 64) and d.n_classes == 10 and d.image_shape == (8, 8)
    assert float(d.images.min()) == -1.0 and float(d.images.max()) == 1.0
    k = getkey()
    tr, te = datasets.train_test_split(d, key=k, test_fraction=0.25)
    assert len(tr) + len(te) == 1797
    # stratified: every class is split in proportion
    for c in range(10):
        n_c = int(np.sum(np.asarray(d.labels) == c))
        assert abs(int(np.sum(np.asarray(te.labels) == c)) - 0.25 * n_c) <= 1
    # disjoint and reproducible from the key
    both = np.concatenate([np.asarray(tr.images), np.asarray(te.images)])
    assert len(np.unique(both, axis=0)) == len(np.unique(np.asarray(d.images), axis=0))
    tr2, te2 = datasets.train_test_split(d, key=k, test_fraction=0.25)
    np.testing.assert_array_equal(np.asarray(te.labels), np.asarray(te2.labels))
    tr3, _ = datasets.train_test_split(d, key=jax.random.key(99), test_fraction=0.25)
    assert not np.array_equal(np.asarray(tr.labels), np.asarray(tr3.labels))


def test_dataset_bad_input():
    with pytest.raises(ValueError, match="labels"):
        datasets.Dataset(np.zeros((3, 4)), np.array([0, 1, 5]), 3, (2, 2))
    with pytest.raises(ValueError, match="labels"):
        datasets.Dataset(np.zeros((3, 4)), np.array([0, -1, 1]), 3, (2, 2))
    with pytest.raises(ValueError, match="image_shape"):
        datasets.Dataset(np.zeros((3, 4)), np.array([0, 1, 2]), 3, (3, 2))
    with pytest.raises(ValueError, match="labels"):
        datasets.Dataset(np.zeros((3, 4)), np.array([0, 1]), 3, (2, 2))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.train_test_split(datasets.load_digits(), key=jax.random.key(0), test_fraction=1)
    with pytest.raises(ValueError, match="pixels"):
        datasets.to_pm1(np.array([0, 300]), 255.0)

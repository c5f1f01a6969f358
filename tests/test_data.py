"""Tests for training.data: built-in sets, shapes, folders and torchvision (offline only)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.core.errors import UserError
from training.data import DATASET_NAMES, Dataset, list_datasets, load_dataset
from training.data.cache import data_root
from training.data.shapes import render_shapes


def assert_images(x: torch.Tensor, shape: tuple[int, int, int]) -> None:
    assert x.dtype == torch.float32
    assert x.is_contiguous()
    assert tuple(x.shape[1:]) == shape
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def assert_one_sentence(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert message.endswith(".") and ". " not in message


def class_fractions(y: torch.Tensor, n_classes: int) -> np.ndarray:
    return np.bincount(y.numpy(), minlength=n_classes) / len(y)


# ---------------------------------------------------------------- built-in sets


def test_mnist5k_shapes_split_and_stratification():
    data = load_dataset("mnist5k")
    assert isinstance(data, Dataset) and data.name == "mnist5k"
    assert_images(data.x_train, (1, 28, 28))
    assert_images(data.x_test, (1, 28, 28))
    assert (len(data.x_train), len(data.x_test)) == (4000, 1000)
    assert data.y_train.dtype == torch.int64 and data.y_train.shape == (4000,)
    assert data.image_shape == (1, 28, 28) and data.num_pixels == 784
    assert data.label_names == [str(d) for d in range(10)]
    assert not data.labels_are_factors and data.factor_names is None
    assert float(data.x_train.max()) == 1.0  # scaled by 255, not left as 0..255 or squashed
    np.testing.assert_allclose(class_fractions(data.y_train, 10), class_fractions(data.y_test, 10), atol=0.01)
    # Train and test are disjoint: no test image appears in train.
    train_rows = {row.tobytes() for row in (data.x_train.flatten(1) * 255).round().to(torch.uint8).numpy()}
    test_rows = [row.tobytes() for row in (data.x_test.flatten(1) * 255).round().to(torch.uint8).numpy()]
    assert sum(row in train_rows for row in test_rows) < 5  # MNIST has a handful of exact duplicates at most


def test_mnist5k_is_deterministic_and_cache_is_not_shared():
    first = load_dataset("mnist5k", seed=123)  # the seed must not change the split
    first.x_train.zero_()  # a caller scribbling on its copy ...
    second = load_dataset("mnist5k")
    third = load_dataset("mnist5k")
    assert float(second.x_train.sum()) > 0  # ... does not corrupt the cache
    assert torch.equal(second.x_train, third.x_train) and torch.equal(second.y_test, third.y_test)
    assert torch.equal(first.y_train, second.y_train)


def test_digits_shapes_split_and_determinism():
    data = load_dataset("digits")
    assert_images(data.x_train, (1, 8, 8))
    assert_images(data.x_test, (1, 8, 8))
    assert len(data.x_train) + len(data.x_test) == 1797
    assert abs(len(data.x_test) - 0.2 * 1797) <= 10
    assert float(data.x_train.max()) == 1.0
    np.testing.assert_allclose(class_fractions(data.y_train, 10), class_fractions(data.y_test, 10), atol=0.01)
    assert torch.equal(load_dataset("digits").x_test, data.x_test)


def test_fixed_size_sets_reject_other_sizes():
    with pytest.raises(UserError, match="28x28"):
        load_dataset("mnist5k", image_size=32)
    with pytest.raises(UserError, match="channel"):
        load_dataset("digits", channels=3)
    assert load_dataset("digits", image_size=8, channels=1).image_shape == (1, 8, 8)


def test_unknown_name_error():
    with pytest.raises(UserError) as info:
        load_dataset("foo")
    assert str(info.value) == (
        "Unknown dataset 'foo'; choose one of mnist5k, digits, shapes, mnist, fashion-mnist, kmnist, cifar10 or folder:PATH."
    )


def test_list_datasets_reports_availability(tmp_path):
    infos = {info.name: info for info in list_datasets(root=tmp_path)}
    assert tuple(infos) == DATASET_NAMES
    for name in ("mnist5k", "digits", "shapes"):
        assert infos[name].available and "offline" in infos[name].detail
    for name in ("mnist", "fashion-mnist", "kmnist", "cifar10"):
        assert not infos[name].available and "not cached" in infos[name].detail
    assert infos["cifar10"].image_shape == (3, 32, 32)
    assert not any((tmp_path / p).exists() for p in ("MNIST", "cifar-10-batches-py"))  # listing creates nothing


def test_data_root_follows_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_DATA", str(tmp_path))
    assert data_root() == tmp_path.resolve()
    assert data_root(tmp_path / "x") == (tmp_path / "x").resolve()


# ---------------------------------------------------------------- shapes


def test_shapes_layout_and_factor_ranges():
    data = load_dataset("shapes")
    assert_images(data.x_train, (1, 28, 28))
    assert (len(data.x_train), len(data.x_test)) == (8000, 2000)
    assert data.labels_are_factors and data.y_train.dtype == torch.float32 and data.y_train.shape == (8000, 5)
    assert data.factor_names == ["shape", "scale", "rotation", "pos_x", "pos_y"]
    assert data.label_names == ["square", "ellipse", "heart"]
    y = torch.cat([data.y_train, data.y_test]).numpy()
    assert set(np.unique(y[:, 0])) == {0.0, 1.0, 2.0}
    assert y[:, 1].min() >= 0.5 and y[:, 1].max() <= 1.0
    assert y[:, 2].min() >= 0.0 and y[:, 2].max() < 2 * np.pi and y[:, 2].max() > 6.0
    assert y[:, 3:].min() >= 0.0 and y[:, 3:].max() <= 1.0
    assert 0.02 < float(data.x_train.mean()) < 0.3  # shapes drawn, neither empty nor filled


def test_shapes_deterministic_by_seed_and_resizable():
    a, b = load_dataset("shapes", seed=7, image_size=16), load_dataset("shapes", seed=7, image_size=16)
    c = load_dataset("shapes", seed=8, image_size=16)
    assert a.image_shape == (1, 16, 16) and a.x_train.shape == (8000, 1, 16, 16)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train) and not torch.equal(a.y_train, c.y_train)
    with pytest.raises(UserError):
        load_dataset("shapes", channels=3)
    with pytest.raises(UserError, match="image_size"):
        load_dataset("shapes", image_size=4)


def test_shapes_rotation_changes_image_and_shapes_stay_inside():
    rotations = [(s, r) for s in range(3) for r in (0.0, 0.6)]
    images = render_shapes(np.array([[s, 1.0, r, 0.5, 0.5] for s, r in rotations]), 28)
    for s in range(3):
        assert np.abs(images[2 * s] - images[2 * s + 1]).mean() > 0.01, f"shape {s} ignores rotation"
    assert np.abs(images[0] - images[2]).mean() > 0.01 and np.abs(images[2] - images[4]).mean() > 0.01
    # The same shape in a corner keeps (nearly) all its area: nothing is clipped.
    corners = render_shapes(np.array([[s, 1.0, 0.8, p, p] for s in range(3) for p in (0.5, 0.0, 1.0)]), 28)
    areas = corners.reshape(3, 3, -1).sum(-1)
    np.testing.assert_allclose(areas[:, 1:], areas[:, :1].repeat(2, 1), rtol=0.03)


# ---------------------------------------------------------------- folder:PATH


def save_image(path: Path, colour, size=(10, 12), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def test_folder_with_class_subfolders_skips_corrupt_file(tmp_path):
    for i in range(5):
        save_image(tmp_path / "cat" / f"{i}.png", (128, 128, 128))
        save_image(tmp_path / "dog" / "nested" / f"{i}.jpg", (255, 255, 255))
    (tmp_path / "cat" / "broken.png").write_bytes(b"not an image at all")
    (tmp_path / "notes.txt").write_text("ignored")
    data = load_dataset(f"folder:{tmp_path}")
    assert data.name == f"folder:{tmp_path.resolve()}"
    assert data.skipped == 1
    assert data.label_names == ["cat", "dog"]
    assert (len(data.x_train), len(data.x_test)) == (8, 2)
    assert sorted(data.y_test.tolist()) == [0, 1]  # stratified: one of each class in test
    assert_images(data.x_train, (1, 28, 28))
    x = torch.cat([data.x_train, data.x_test])
    y = torch.cat([data.y_train, data.y_test])
    assert torch.allclose(x[y == 0], torch.tensor(128 / 255), atol=1e-6)
    assert torch.allclose(x[y == 1], torch.tensor(1.0))


def test_flat_folder_rgb_and_size(tmp_path):
    for i in range(6):
        save_image(tmp_path / f"img{i}.bmp", (255, 0, 0), size=(20 + i, 9))
    data = load_dataset(f"folder:{tmp_path}", image_size=16, channels=3)
    assert data.y_train is None and data.y_test is None and data.label_names is None
    assert data.image_shape == (3, 16, 16) and data.skipped == 0
    assert (len(data.x_train), len(data.x_test)) == (5, 1)
    assert_images(data.x_train, (3, 16, 16))
    assert torch.all(data.x_train[:, 0] == 1.0) and torch.all(data.x_train[:, 1:] == 0.0)
    gray = load_dataset(f"folder:{tmp_path}")
    assert gray.image_shape == (1, 28, 28) and 0.2 < float(gray.x_train.mean()) < 0.4  # red -> luminance ~0.3


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: p, "No readable images"),  # empty folder
        (lambda p: (p / "a.txt").write_text("x") and p / "a.txt", "not a folder"),
        (lambda p: save_image(p / "one.png", (0, 0, 0)) or p, "at least 2"),
        (lambda p: (p / "x.png").write_bytes(b"junk") and p, "No readable images"),
    ],
)
def test_folder_errors(tmp_path, make, match):
    with pytest.raises(UserError, match=match) as info:
        load_dataset(f"folder:{make(tmp_path)}")
    assert_one_sentence(str(info.value).replace(str(tmp_path), "DIR"))


def test_folder_rejects_bad_options(tmp_path):
    with pytest.raises(UserError, match="image_size"):
        load_dataset(f"folder:{tmp_path}", image_size=1000)
    with pytest.raises(UserError, match="channels"):
        load_dataset(f"folder:{tmp_path}", channels=2)


# ---------------------------------------------------------------- torchvision (tiny local MNIST)

MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format MNIST uses (magic 0x08 0x<ndim>, big-endian dims)."""
    header = np.array([0x0800 + array.ndim, *array.shape], dtype=">i4").tobytes()
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_mnist() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        MNIST_NAMES[0]: rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        MNIST_NAMES[1]: np.arange(20, dtype=np.uint8) % 10,
        MNIST_NAMES[2]: rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        MNIST_NAMES[3]: np.arange(10, dtype=np.uint8)[::-1].copy(),
    }


def check_tiny_mnist(data: Dataset, arrays: dict[str, np.ndarray]) -> None:
    assert data.name == "mnist" and data.image_shape == (1, 28, 28)
    assert_images(data.x_train, (1, 28, 28))
    assert data.x_train.shape == (20, 1, 28, 28) and data.x_test.shape == (10, 1, 28, 28)
    expected = torch.from_numpy(arrays[MNIST_NAMES[0]]).float().div(255).unsqueeze(1)
    assert torch.equal(data.x_train, expected)
    assert data.y_train.dtype == torch.int64 and data.y_test.tolist() == list(range(9, -1, -1))
    assert data.label_names[0] == "0 - zero" and len(data.label_names) == 10


def test_torchvision_mnist_from_local_raw_files(tmp_path, tiny_mnist):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, array in tiny_mnist.items():
        (raw / name).write_bytes(idx_bytes(array))
    check_tiny_mnist(load_dataset("mnist", root=tmp_path, download=False), tiny_mnist)
    info = {i.name: i for i in list_datasets(tmp_path)}["mnist"]
    assert info.available and str(raw) in info.detail
    with pytest.raises(UserError, match="28x28"):
        load_dataset("mnist", root=tmp_path, image_size=64)


@pytest.fixture
def offline_urllib(monkeypatch):
    """Make sure urllib never goes through a proxy for 127.0.0.1."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def mnist_server(tmp_path, tiny_mnist):
    """Serve gzipped tiny-MNIST files over HTTP on 127.0.0.1; yields (base URL, resources)."""
    served = tmp_path / "served"
    served.mkdir()
    resources = []
    for name, array in tiny_mnist.items():
        payload = gzip.compress(idx_bytes(array))
        (served / f"{name}.gz").write_bytes(payload)
        resources.append((f"{name}.gz", hashlib.md5(payload).hexdigest()))

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", resources
    server.shutdown()
    server.server_close()


def test_torchvision_download_path_uses_local_mirror(tmp_path, monkeypatch, offline_urllib, mnist_server, tiny_mnist):
    import torchvision.datasets

    url, resources = mnist_server
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
    root = tmp_path / "cache"
    data = load_dataset("mnist", root=root, download=True)
    check_tiny_mnist(data, tiny_mnist)  # the fixture's arrays are exactly what the server sent
    assert (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_torchvision_offline_and_not_cached_is_one_sentence(tmp_path, monkeypatch, offline_urllib):
    import torchvision.datasets

    with socket.socket() as sock:  # grab a free port, then close it so connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    for download in (True, False):
        with pytest.raises(UserError) as info:
            load_dataset("mnist", root=tmp_path, download=download)
        message = str(info.value)
        assert str(tmp_path / "MNIST" / "raw") in message
        assert "train-images-idx3-ubyte.gz" in message and f"127.0.0.1:{port}" in message
        assert_one_sentence(message.replace(str(tmp_path), "DIR"))
    assert "no internet" in _message(tmp_path, True) and "switched off" in _message(tmp_path, False)


def _message(root: Path, download: bool) -> str:
    with pytest.raises(UserError) as info:
        load_dataset("mnist", root=root, download=download)
    return str(info.value)


def test_walking_a_huge_folder_stops_at_the_image_limit(tmp_path, monkeypatch):
    import training.data.folder as folder_module
    from PIL import Image

    monkeypatch.setattr(folder_module, "MAX_IMAGES", 5)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        for i in range(4):
            Image.new("L", (4, 4)).save(tmp_path / sub / f"{i}.png")
    with pytest.raises(UserError, match="more than 5 images"):
        load_dataset(f"folder:{tmp_path}")

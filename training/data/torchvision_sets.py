"""MNIST, Fashion-MNIST, KMNIST and CIFAR-10 through torchvision's own download code.

The stored arrays (``.data`` / ``.targets``) are converted in one step; no
per-sample iteration. When the files are missing and cannot be downloaded, a
``UserError`` says which files to put where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from training.core.errors import UserError
from .dataset import Dataset, images_to_tensor

_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                "test_batch", "batches.meta")


@dataclass(frozen=True)
class TorchvisionSet:
    """How one torchvision data set is named, stored and described."""

    name: str
    class_name: str  # attribute of torchvision.datasets
    title: str
    image_shape: tuple[int, int, int]
    description: str

    @property
    def is_cifar(self) -> bool:
        return self.class_name == "CIFAR10"

    def folder(self, root: Path) -> Path:
        """Folder torchvision reads the (extracted) files from."""
        return root / "cifar-10-batches-py" if self.is_cifar else root / self.class_name / "raw"

    def is_cached(self, root: Path) -> bool:
        """Cheap check that the files torchvision needs exist (no checksums)."""
        files = _CIFAR_FILES if self.is_cifar else _MNIST_FILES
        folder = self.folder(root)
        return all((folder / f).is_file() for f in files)


TORCHVISION_SETS = {
    s.name: s
    for s in (
        TorchvisionSet("mnist", "MNIST", "MNIST", (1, 28, 28), "70,000 handwritten digits 0-9"),
        TorchvisionSet("fashion-mnist", "FashionMNIST", "Fashion-MNIST", (1, 28, 28),
                       "70,000 grayscale clothing images in 10 classes"),
        TorchvisionSet("kmnist", "KMNIST", "KMNIST", (1, 28, 28), "70,000 cursive Japanese characters in 10 classes"),
        TorchvisionSet("cifar10", "CIFAR10", "CIFAR-10", (3, 32, 32), "60,000 small colour photos in 10 classes"),
    )
}


def load_torchvision(name: str, root: Path, download: bool) -> Dataset:
    """Load (and if allowed, download) a torchvision data set as float tensors."""
    import torchvision.datasets

    spec = TORCHVISION_SETS[name]
    dataset_class = getattr(torchvision.datasets, spec.class_name)
    was_cached = spec.is_cached(root)
    try:
        train = dataset_class(str(root), train=True, download=download)
        test = dataset_class(str(root), train=False, download=download)
    except (RuntimeError, OSError, ValueError, AssertionError, EOFError) as error:  # URLError is an OSError
        if was_cached:
            raise UserError("{title} files in {value} could not be read (corrupt?); delete that folder to download "
                "them again.",
                title=spec.title, value=spec.folder(root)) from error
        raise UserError(_missing_message(spec, dataset_class, root, download)) from error
    return Dataset(
        name=name,
        x_train=_images(train.data),
        y_train=torch.as_tensor(train.targets, dtype=torch.int64),
        x_test=_images(test.data),
        y_test=torch.as_tensor(test.targets, dtype=torch.int64),
        image_shape=spec.image_shape,
        label_names=[str(c) for c in train.classes],
    )


def _images(data) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    data = torch.as_tensor(data)
    data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
    return images_to_tensor(data, 255.0)


def _missing_message(spec: TorchvisionSet, dataset_class: type, root: Path, download: bool) -> str:
    """One sentence: the set is not cached, why it was not fetched, and what to put where."""
    reason = "could not be downloaded (no internet?)" if download else "downloading is switched off"
    if spec.is_cifar:
        return (f"{spec.title} is not cached in {spec.folder(root)} and {reason}; download "
                f"{dataset_class.url} and extract it in {root}.")
    files = [filename for filename, _ in dataset_class.resources]
    listed = ", ".join(files[:-1]) + " and " + files[-1]
    return (f"{spec.title} is not cached in {spec.folder(root)} and {reason}; download {listed} "
            f"from {dataset_class.mirrors[0]} and put them there.")

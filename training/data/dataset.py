"""The ``Dataset`` container every loader returns, plus the shared split helper."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.core.errors import reason


@dataclass(frozen=True)
class Dataset:
    """A train/test pair of image tensors with optional labels.

    ``x_*`` are float32 (N, C, H, W) in [0, 1]. ``y_*`` are int64 (N,) class
    indices (see ``label_names``), float32 (N, F) generative factors (see
    ``factor_names``), or None. ``skipped`` counts the files that were not used (folder: only) and
    ``skipped_examples`` names a few of them, each with why.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor | None
    x_test: torch.Tensor
    y_test: torch.Tensor | None
    image_shape: tuple[int, int, int]
    label_names: list[str] | None = None
    factor_names: list[str] | None = None
    skipped: int = 0
    skipped_examples: tuple[str, ...] = ()

    @property
    def skipped_note(self) -> str | None:
        """One sentence on the files that were left out, or None."""
        note = self.skipped_reason
        return None if note is None else note["reason"]

    @property
    def skipped_reason(self) -> dict | None:
        """That sentence as text, template and values (``training.core.errors.reason``), or None."""
        if not self.skipped:
            return None
        shown = "; ".join(self.skipped_examples)
        extra = self.skipped - len(self.skipped_examples)
        if extra > 0:
            return reason("{count} file(s) in {name} were skipped: {shown} and {extra} more.", count=self.skipped,
                          name=self.name, shown=shown, extra=extra)
        return reason("{count} file(s) in {name} were skipped: {shown}.", count=self.skipped, name=self.name,
                      shown=shown)

    def fingerprint(self) -> str:
        """A digest of the images and labels of both splits: equal exactly when the data is the same
        (stored in a run's checkpoint, so that resuming on changed data is refused)."""
        import hashlib

        digest = hashlib.blake2b(digest_size=16)
        for t in (self.x_train, self.y_train, self.x_test, self.y_test):
            if t is None:
                digest.update(b"none")
                continue
            t = t.detach().to("cpu").contiguous()
            digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.numpy().tobytes())
        return digest.hexdigest()

    @property
    def num_pixels(self) -> int:
        """Values per image, C * H * W."""
        c, h, w = self.image_shape
        return c * h * w

    @property
    def labels_are_factors(self) -> bool:
        """True when ``y_*`` hold continuous factor rows rather than class indices."""
        return self.y_train is not None and self.y_train.dim() == 2

    def test_label(self, index: int) -> str | None:
        """Test image INDEX's class name (a factor row's first factor, shapes' shape, stands for its class), or
        None without labels."""
        if self.y_test is None:
            return None
        y = self.y_test[index]
        value = int(y[0]) if self.labels_are_factors else int(y)
        names = self.label_names
        return names[value] if names and 0 <= value < len(names) else str(value)

    def clone(self) -> Dataset:
        """A copy with fresh tensors, so in-place edits cannot leak into a cache."""
        def copy(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.clone()

        return Dataset(
            name=self.name,
            x_train=copy(self.x_train),
            y_train=copy(self.y_train),
            x_test=copy(self.x_test),
            y_test=copy(self.y_test),
            image_shape=self.image_shape,
            label_names=None if self.label_names is None else list(self.label_names),
            factor_names=None if self.factor_names is None else list(self.factor_names),
            skipped=self.skipped,
            skipped_examples=self.skipped_examples,
        )


def split_indices(
    n: int, test_fraction: float, labels: np.ndarray | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic shuffled (train, test) index arrays.

    Stratified by ``labels`` when given and every class has at least 2 items;
    each class (or the whole set) keeps at least one item on each side.
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True) if labels is not None else ([], [])
    if len(counts) > 0 and min(counts) >= 2:
        groups = [np.flatnonzero(labels == c) for c in classes]
    else:
        groups = [np.arange(n)]
    train, test = [], []
    for group in groups:
        group = rng.permutation(group)
        k = min(max(1, round(test_fraction * len(group))), len(group) - 1)
        test.append(group[:k])
        train.append(group[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def images_to_tensor(images: np.ndarray | torch.Tensor, scale: float) -> torch.Tensor:
    """(N, C, H, W) array of raw values -> contiguous float32 tensor divided by ``scale``."""
    tensor = torch.as_tensor(images).to(torch.float32, copy=True)
    return tensor.div_(scale).contiguous()

"""Snapshots: the model's weights at a schedule of epochs, so that the latent space can be watched forming.

    RUN_DIR/snapshots/epoch-0004.safetensors    every weight in float16 (half the bytes of model.safetensors),
                                                the epoch in its metadata; never pickle

A training writes one after each epoch of ``schedule(epochs)`` (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, ... about
two per doubling, and the last epoch), so early epochs, where the most happens, are dense. The run's
snapshots together stay under a byte budget, ``VAE_EXPLORER_SNAPSHOT_MB`` (default 64; 0 turns them off):
when the next one would pass it, every other one of the kept ones (never the first or the newest) is
deleted, so the kept epochs stay spread over the whole run. A model whose one snapshot would take more than
a quarter of the budget keeps none. The sizes are computed from the config before anything is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from training.core import costs
from training.core.config import ModelConfig
from training.core.environment import SNAPSHOT_ENV, snapshot_mb
from training.core.errors import UserError
from training.core.files import read_bounded
from training.runs.layout import atomic_write

if TYPE_CHECKING:  # torch is imported where weights are saved or loaded: listing snapshots (the epoch
    import torch    # scrubber, before a page's first image) must not wait for it

SNAPSHOTS = "snapshots"
ENV = SNAPSHOT_ENV  # read by training/core/environment.py
_NAME = re.compile(r"^epoch-(\d{4,})\.safetensors$")


def schedule(epochs: int) -> list[int]:
    """The epochs after which a snapshot is kept: 1, 2, 3, 4, 6, 8, 12, 16, ... (x1.5, x1.33 alternately) and
    the last one."""
    kept, k = [], 1
    while k < epochs:
        kept.append(k)
        k = k + 1 if k < 4 else (k * 3) // 2 if k & (k - 1) == 0 else (k * 4) // 3
    return kept + [epochs] if epochs >= 1 else []


def budget_bytes() -> int:
    """$VAE_EXPLORER_SNAPSHOT_MB in bytes (0: no snapshots)."""
    return snapshot_mb() * costs.MB


def snapshot_bytes(cfg: ModelConfig) -> int:
    """One snapshot's size: two bytes per parameter (and a small header)."""
    return 2 * costs.parameter_count(cfg) + 64 * 1024


def enabled(cfg: ModelConfig) -> bool:
    budget = budget_bytes()
    return budget > 0 and snapshot_bytes(cfg) * 4 <= budget


def path_of(run_dir: str | Path, epoch: int) -> Path:
    return Path(run_dir) / SNAPSHOTS / f"epoch-{epoch:04d}.safetensors"


def kept_epochs(run_dir: str | Path) -> list[int]:
    """The epochs that have a snapshot, in order."""
    folder = Path(run_dir) / SNAPSHOTS
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name)))


def save(run_dir: str | Path, cfg: ModelConfig, model: torch.nn.Module | dict[str, torch.Tensor], epoch: int,
         epochs: int) -> bool:
    """After EPOCH: keep a snapshot of MODEL (or of its state dict) if the schedule asks for one and the budget
    allows; True if written."""
    if epoch not in schedule(epochs) or not enabled(cfg):
        return False
    size, budget = snapshot_bytes(cfg), budget_bytes()
    kept = [e for e in kept_epochs(run_dir) if e != epoch]
    while kept and (len(kept) + 1) * size > budget:  # thin out: every other one, the first always stays
        drop = kept[1::2] if len(kept) > 2 else kept[1:]
        for e in drop:
            path_of(run_dir, e).unlink(missing_ok=True)
        kept = [e for e in kept if e not in drop]
        if not drop:
            break
    (Path(run_dir) / SNAPSHOTS).mkdir(exist_ok=True)  # never the run folder itself: one removed stays removed
    import torch
    from safetensors.torch import save as st_save

    weights = model if isinstance(model, dict) else model.state_dict()
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in weights.items()}
    atomic_write(path_of(run_dir, epoch), st_save(tensors, metadata={"format": "vae-explorer/snapshot",
                                                                       "epoch": str(epoch)}))
    return True


def load(run_dir: str | Path, cfg: ModelConfig, epoch: int) -> dict[str, torch.Tensor]:
    """The weights of EPOCH's snapshot as float32 tensors, checked against the config's model."""
    import torch
    from safetensors.torch import load as st_load

    path = path_of(run_dir, epoch)
    expected = snapshot_bytes(cfg)
    data = read_bounded(path, expected + costs.SAFETENSORS_HEADER_MAX, "a snapshot", too_large=lambda size: UserError(
        "{path} is {size:,} bytes; a snapshot of this model is about {expected:,}.", path=path, size=size,
        expected=expected))
    try:
        tensors = st_load(data)
    except Exception as err:  # any malformation of the file
        raise UserError("{path} is not a valid safetensors file ({why}).", path=path,
                        why=str(err).splitlines()[0]) from None
    return {k: v.to(torch.float32) for k, v in tensors.items()}

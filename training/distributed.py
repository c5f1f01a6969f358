"""Running ``fit`` under torchrun: one process per CPU slot or GPU, DistributedDataParallel.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; with WORLD_SIZE > 1 we join the process group
(gloo on CPU, nccl on CUDA). Rank 0 alone writes the run folder and prints.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device: str) -> None:
    """Join the process group if launched by torchrun with more than one process."""
    if world_size_from_env() <= 1 or dist.is_initialized():
        return
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")


def is_rank0() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def shutdown(together: bool = False) -> None:
    """Leave the process group. After a normal end, wait for every rank first (``together``): a rank
    that tears gloo down while rank 0 is still writing the last checkpoint is aborted by gloo
    ("terminate called without an active exception"). After an error, do not wait: a failed rank
    may never arrive."""
    if dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()

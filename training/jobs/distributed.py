"""Running ``fit`` under torchrun: one process per CPU slot or GPU, DistributedDataParallel.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; with WORLD_SIZE > 1 we join the process group
(gloo on CPU, nccl on CUDA). Rank 0 alone writes the run folder and prints.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from training.core.errors import UserError


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device: str) -> None:
    """Join the process group if launched by torchrun with more than one process."""
    if world_size_from_env() <= 1:
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")


def run_in_group(device: str, body: Callable[[], None]) -> None:
    """BODY inside the process group (if torchrun started this process), which is left after it, however it
    ends (``shutdown``)."""
    init_from_env(device)
    finished = False
    try:
        body()
        finished = True
    finally:
        shutdown(finished)


def _dist():
    """torch.distributed once it is initialised, else None (and torch not imported for nothing)."""
    if world_size_from_env() <= 1:
        return None
    import torch.distributed as dist

    return dist if dist.is_initialized() else None


def is_rank0() -> bool:
    dist = _dist()
    return dist is None or dist.get_rank() == 0


def agree(error: str | None) -> None:
    """Rank 0 tells every rank whether it may go on (e.g. it could not claim the run folder); the
    other ranks raise the same sentence instead of waiting forever for a rank that has left."""
    dist = _dist()
    if dist is None:
        return
    message = [error]
    dist.broadcast_object_list(message, src=0)
    if message[0] is not None and dist.get_rank() != 0:
        raise UserError(message[0])


def shutdown(finished: bool) -> None:
    """Leave the process group.

    After a normal end every rank waits for the others (rank 0 may still be writing the last
    checkpoint), then the process ends at once with os._exit(0): all files are already written
    atomically, and PyTorch's gloo teardown at interpreter exit sometimes aborts a rank ("terminate
    called without an active exception", seen under load in CI-like runs), which would turn a
    finished training into a failed torchrun. After an error, do not wait: a failed rank may never
    arrive.
    """
    dist = _dist()
    if dist is None:
        return
    if finished:
        dist.barrier()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    dist.destroy_process_group()

"""What a training reports while it runs (``Progress``, to a ``Callback``) and how it fails when its numbers
stop being finite (``TrainingDiverged``): the trainer's side of the conversation with its caller (the command
line's printer, the run's recorder, the app's status), kept apart from how the trainer computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from training.core.errors import UserError


class TrainingDiverged(UserError):
    """The loss or the weights stopped being finite."""


@dataclass
class Progress:
    """What the callback receives: after every step ("step"), epoch ("epoch"), and at the end."""

    kind: str                 # "step" | "epoch" | "done" | "stopped"
    epoch: int                # the epoch in progress (1-based), or the last finished one
    epochs: int
    step: int                 # steps done in this epoch
    steps_per_epoch: int
    global_step: int
    beta: float
    recon: float | None = None    # this step's batch mean, nats per image
    kl: float | None = None
    loss: float | None = None
    elapsed: float = 0.0          # seconds since fit() started
    record: dict | None = None    # the epoch's history record (kind == "epoch")


Callback = Callable[[Progress], None]

"""What the app calls a latent dimension: z_k, followed by the known factor it tracks when the run's data
set has known factors and the rule of training/analysis/disentangle.py names one ("z_3 (x position)").

The names come from the run's last recorded epoch (history.jsonl: ``factor_nmi``, ``factors``), so every
page reads the same names without encoding anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from explorer.i18n import N_, _
from training.analysis.disentangle import labels_of_record

FACTOR_TITLES = {"shape": N_("shape"), "scale": N_("scale"), "rotation": N_("rotation"),
                 "pos_x": N_("x position"), "pos_y": N_("y position")}


def factor_title(name: str) -> str:
    """A factor's name in the visitor's language (unknown factors keep their own name)."""
    return _(FACTOR_TITLES[name]) if name in FACTOR_TITLES else str(name)


def of_history(history: Sequence[dict], z_dim: int) -> list[str | None]:
    """Per dimension, the title of the factor it tracks, or None (also for runs without known factors)."""
    if not history:
        return [None] * z_dim
    return [None if name is None else factor_title(name) for name in labels_of_record(history[-1], z_dim)]


def title(i: int, names: Sequence[str | None] | None = None) -> str:
    """'z_3', or 'z_3 (x position)' when dimension 3 has a name."""
    name = names[i] if names is not None and i < len(names) else None
    return f"z_{i}" if name is None else f"z_{i} ({name})"

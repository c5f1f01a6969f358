"""Directions in z on every page (issue 27): the chosen direction resolved for the current model (``chosen``), the
two groups' form and what the direction separates (``picker``), the move-along control and traversal rows along
directions (``move``), the principal directions as sliders (``principal``).

The direction itself (two group specs, and t) is kept by explorer/state/direction.py; its vector is
training/analysis/directions.py's ``between`` over the test encodings, computed when a page asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.state import direction, readings, shared
from training.analysis import directions
from training.core.errors import UserError


@dataclass(frozen=True)
class Chosen:
    source: str
    target: str
    found: directions.Direction | None  # None: the groups name nothing here (``error`` says why)
    error: UserError | None

    @property
    def name(self) -> str:
        """How the direction is named on every control: label:1 → label:7."""
        return f"{self.source} → {self.target}"

    @property
    def vector(self) -> np.ndarray | None:
        return None if self.found is None else self.found.direction


def context(run) -> tuple[np.ndarray, directions.Groups, object, object]:
    """What a direction is found from for RUN: the test encodings mu (N, Z), the groups they can form, the data
    set and the test images (the page stops with one sentence if the data set cannot be loaded)."""
    data = shared.current_data(run)
    x_test = shared.current_test_images(run, data)
    mu = readings.test_mu(run, x_test)
    return mu, directions.Groups.of(data, len(x_test)), data, x_test


def chosen(run, page: str | None = None) -> Chosen | None:
    """The session's direction for RUN, resolved (a link's ``dir=`` is taken first, on PAGE); None if none."""
    path = str(run.path)
    if page is not None and direction.link_pending():
        _mu, groups, _data, _x = context(run)
        direction.from_link(path, page, groups)
    pair = direction.get(path)
    if pair is None:
        return None
    mu, groups, _data, _x = context(run)
    try:
        return Chosen(*pair, direction.found(mu, groups, *pair), None)
    except UserError as err:
        return Chosen(*pair, None, err)


def principal_of(run, indices=None):
    """The principal directions (training/analysis/principal.py) of RUN's test encodings, or of those at INDICES."""
    from training.analysis.principal import principal

    mu, _groups, _data, _x = context(run)
    return principal(mu if indices is None else np.asarray(mu)[np.asarray(indices, np.int64)])

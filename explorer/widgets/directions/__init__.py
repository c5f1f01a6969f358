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


def describe(spec: str, data) -> str:
    """A group in the words the form shows: "7" or "ellipse" for a label, "x position 0–0.3" for a factor's range,
    "test images 3, 5, 9" for indices (the link keeps the specs: label:7, pos_x:0..0.3, 3,5,9)."""
    from explorer.i18n import _
    from explorer.state import dim_names

    if spec.startswith(directions.LABEL):
        k = spec[len(directions.LABEL):]
        names = data.label_names if data is not None else None
        return str(names[int(k)]) if names and k.isdigit() and int(k) < len(names) else k
    if ":" in spec:
        name, _sep, bounds = spec.partition(":")
        return f"{dim_names.factor_title(name)} {bounds.replace('..', '–')}"
    indices = [v for v in spec.split(",") if v]
    if len(indices) <= 3:
        return _("test images {indices}").format(indices=", ".join(indices))
    return _("{n} chosen test images").format(n=len(indices))


@dataclass(frozen=True)
class Chosen:
    source: str
    target: str
    found: directions.Direction | None  # None: the groups name nothing here (``error`` says why)
    error: UserError | None
    source_title: str = ""
    target_title: str = ""

    @property
    def name(self) -> str:
        """How the direction is named on every control, in the form's words: 1 → 7, x position 0–0.3 → 0.7–1."""
        return f"{self.source_title or self.source} → {self.target_title or self.target}"

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
    mu, groups, data, _x = context(run)
    titles = (describe(pair[0], data), describe(pair[1], data))
    try:
        return Chosen(*pair, direction.found(mu, groups, *pair), None, *titles)
    except UserError as err:
        return Chosen(*pair, None, err, *titles)


def principal_of(run, indices=None):
    """The principal directions (training/analysis/principal.py) of RUN's test encodings, or of those at INDICES."""
    from training.analysis.principal import principal

    mu, _groups, _data, _x = context(run)
    return principal(mu if indices is None else np.asarray(mu)[np.asarray(indices, np.int64)])

"""An axis of your own on the Latent map (issue 27, item 4): x along the session's direction d
(explorer/state/direction.py), y the first principal direction of the drawn points orthogonal to it.

The plane is training.analysis.directions.axis_projection: coords = (mu - mean) @ [u; w]^T with u = d / |d|, a
linear map like PCA, so the decoded grid (z = mean + x u + y w), the visitor's posterior ellipse and the prior's
contours go through it as they go through PCA. The two groups' mean encodings differ by d, so their mean x differ
by |d|. The link's ``axis=label:1>label:7`` opens the map on it; the page writes it back while it is shown.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.i18n import N_, _, error_text
from explorer.state import direction, shared, view_link
from explorer.widgets import directions as direction_widgets
from explorer.widgets.directions import picker
from training.analysis import directions, latent
from training.core.errors import UserError

METHOD = "axis"   # the map's projection (explorer/views/latent_map.py's METHOD_LABELS)
LINK = "axis"     # axis=label:1>label:7
PAGE = "latent_map"
KEY = "map_axis"  # the picker's widgets


def from_link(run) -> bool | None:
    """Once, when a link opens the map: its ``axis=`` becomes the session's direction for RUN (True: the map opens
    on it); a bad one is said in one sentence (False); None without one. A ``dir=`` beside it is taken first, so
    that ``axis=`` names the map's own."""
    text = view_link.wanted(LINK)
    if text is None:
        return None
    _mu, groups, _data, _x = direction_widgets.context(run)
    if direction.link_pending():
        direction.from_link(str(run.path), PAGE, groups)
    try:
        source, target = directions.pair(text)
        directions.distinct(groups.read(source), groups.read(target))
    except UserError as err:
        view_link.problem(PAGE, N_("The link's axis {value} cannot be used: {why}"), value=text, why=error_text(err))
        return False
    direction.put(str(run.path), source, target)
    return True


def unlink() -> None:
    """Another projection is shown: the link holds no axis."""
    view_link.write(**{LINK: None})


@st.cache_data(max_entries=8, show_spinner=False)
def _plane(path: str, digest: str, source: str, target: str, d: np.ndarray, _mu: np.ndarray) -> latent.Projection:
    return directions.axis_projection(_mu, d, source, target)


def plane(run, mu: np.ndarray, digest: str) -> tuple[latent.Projection | None, str]:
    """The two groups' form (a direction is chosen as soon as both name test images, and changed here), then the
    plane of MU (the drawn points) along the chosen direction and its name for caches; (None, "") where there is
    none yet or its groups name nothing, said in a sentence: the map then draws PCA."""
    view_link.wanted("proj")  # the map is on the axis: a page's ask for it is spent
    latest = shared.current_run()  # the direction is the latest weights' (its test encodings are cached so)
    path = str(run.path)
    test_mu, groups, data, _x = direction_widgets.context(latest)
    direction_widgets.chosen(latest, page=PAGE)  # a link's dir= first
    st.caption(_("Your axis: x runs along the direction from group A to group B (the difference of their mean "
                 "encodings, d = mean μ(B) − mean μ(A)), y along the largest variance left orthogonal to it."))
    picker.form(path, KEY, data, groups)
    chosen = direction_widgets.chosen(latest)
    if chosen is None or chosen.found is None:
        if chosen is not None:
            picker.show(chosen, test_mu, groups, KEY)  # its one sentence
        st.info(_("The map shows PCA until the two groups give a direction."), icon=":material/info:")
        unlink()
        return None, ""
    with st.expander(_("What {direction} separates").format(direction=chosen.name)):
        picker.show(chosen, test_mu, groups, KEY)
    view_link.write(**{LINK: directions.written(chosen.source, chosen.target)})
    name = directions.written(chosen.source, chosen.target)
    return _plane(path, digest, chosen.source_title, chosen.target_title, chosen.vector, mu), name


def grid_words() -> str:
    """How the decoded grid maps a point of the plane back to z (the Manifold's caption)."""
    return _("each grid point mapped back to z = mean + x · u + y · w, u the direction's unit vector and w the "
             "principal direction orthogonal to it")

"""The two groups of a direction, as a form (issue 27, item 1): each side a label, a factor's range, the Latent
map's selection or a list of test images; and what the chosen direction separates.

The form writes the two specs into explorer/state/direction.py as soon as they change (finding the direction is a
mean over encodings already computed: milliseconds). What it shows of a direction: its length |d|, the separation
(the distance of the two groups' means along d in pooled standard deviations) and the accuracy (the share of both
groups on their own side of the midpoint), with one sentence that says plainly when it separates little, and the
two groups' histograms along d.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.i18n import _, error_text
from explorer.state import dim_names, direction
from explorer.widgets import map_points, map_selection
from explorer.widgets.directions import Chosen
from training.analysis import directions

LABEL, FACTOR, SELECTION, INDICES = "label", "factor", "selection", "indices"
SEPARATES = 2.0       # separation (pooled sd) from which two groups are called well apart along d
SEPARATES_LITTLE = 1.0
HIST_BINS = 40
PAGE_KEY = "directions"  # the Directions page's form


def _kind_of(spec: str | None) -> str | None:
    if not spec:
        return None
    if spec.startswith(directions.LABEL):
        return LABEL
    return FACTOR if ":" in spec else INDICES


def _label_options(data, groups: directions.Groups) -> list[int]:
    if data.label_names:
        return list(range(len(data.label_names)))
    return [int(v) for v in np.unique(groups.labels)] if groups.labels is not None else []


def _label_name(data, k: int) -> str:
    names = data.label_names
    return f"{k} · {names[k]}" if names and k < len(names) and str(names[k]) != str(k) else str(k)


def _side(side: str, key: str, data, groups: directions.Groups, selection: dict | None, initial: str | None,
          default_label: int) -> str | None:
    """One group's controls; its spec (None while it names nothing yet)."""
    kinds = ([LABEL] if groups.labels is not None else []) + ([FACTOR] if groups.factor_names else []) + \
        ([SELECTION] if selection is not None else []) + [INDICES]
    words = {LABEL: _("a label"), FACTOR: _("a factor's range"), SELECTION: _("the Latent map's selection"),
             INDICES: _("test images by index")}
    k_kind = f"{key}_{side}_kind"
    if k_kind not in st.session_state or st.session_state[k_kind] not in kinds:
        kind = _kind_of(initial)
        st.session_state[k_kind] = kind if kind in kinds else kinds[0]
    title = _("From (group A)") if side == "a" else _("To (group B)")
    kind = st.selectbox(title, kinds, key=k_kind, format_func=words.get)
    if kind == LABEL:
        options = _label_options(data, groups)
        k_label = f"{key}_{side}_label"
        if k_label not in st.session_state or st.session_state[k_label] not in options:
            asked = initial[len(directions.LABEL):] if _kind_of(initial) == LABEL else None
            st.session_state[k_label] = int(asked) if asked and asked.isdigit() and int(asked) in options else \
                options[min(default_label, len(options) - 1)]
        k = st.selectbox(_("Label"), options, key=k_label, format_func=lambda k: _label_name(data, k))
        return f"{directions.LABEL}{int(k)}"
    if kind == FACTOR:
        return _factor_side(side, key, groups, initial)
    if kind == SELECTION:
        st.caption(_("{n} test images selected on the Latent map").format(n=len(selection["indices"])))
        return selection["link"] or ",".join(str(int(i)) for i in selection["indices"])
    k_text = f"{key}_{side}_indices"
    if k_text not in st.session_state:
        st.session_state[k_text] = initial if _kind_of(initial) == INDICES else ""
    text = st.text_input(_("Test images (as 17,42,99)"), key=k_text)
    return text.strip() or None


def _factor_side(side: str, key: str, groups: directions.Groups, initial: str | None) -> str:
    names = list(groups.factor_names)
    k_name, k_range = f"{key}_{side}_factor", f"{key}_{side}_range"
    asked = initial.partition(":") if _kind_of(initial) == FACTOR else ("", "", "")
    if k_name not in st.session_state or st.session_state[k_name] not in names:
        st.session_state[k_name] = asked[0] if asked[0] in names else names[-1]
    name = st.selectbox(_("Factor"), names, key=k_name, format_func=dim_names.factor_title)
    column = groups.factors[:, names.index(name)]
    lo, hi = float(np.floor(column.min() * 100) / 100), float(np.ceil(column.max() * 100) / 100)  # 0.999 -> 1
    span = (lo, lo + (hi - lo) * 0.3) if side == "a" else (hi - (hi - lo) * 0.3, hi)
    if asked[0] == name:
        try:
            low, _sep, high = asked[2].partition("..")
            span = (max(lo, float(low)), min(hi, float(high)))
        except ValueError:
            pass
    if k_range not in st.session_state or st.session_state.get(f"{k_range}_of") != name:
        st.session_state[k_range] = tuple(float(np.round(v, 3)) for v in span)
        st.session_state[f"{k_range}_of"] = name
    if hi <= lo:
        return f"{name}:{lo:g}..{hi:g}"
    low, high = st.slider(_("Range"), lo, hi, key=k_range, step=float(round((hi - lo) / 100, 6)) or None)
    return f"{name}:{low:g}..{high:g}"


def test_selection(path: str, n: int) -> dict | None:
    """The Latent map's selection while it is one of test images (a map of training images selects others)."""
    return map_selection.kept(path, n) if map_points.split_shown() == "test" else None


def use_selection_as_a() -> None:
    """The Directions page's group A becomes the Latent map's selection (its button on the map)."""
    st.session_state[f"{PAGE_KEY}_a_kind"] = SELECTION


def form(path: str, key: str, data, groups: directions.Groups) -> None:
    """From and To, side by side; the session's direction follows them."""
    current = direction.get(path)
    selection = test_selection(path, groups.n)
    left, right = st.columns(2)
    with left:
        source = _side("a", key, data, groups, selection, current[0] if current else None, 1)
    with right:
        target = _side("b", key, data, groups, selection, current[1] if current else None, 7)
    if source and target and (source, target) != current:
        direction.put(path, source, target)


def verdict(found: directions.Direction) -> str:
    """One sentence on how well the direction separates its two groups."""
    if found.separation >= SEPARATES:
        return _("The two groups lie well apart along this direction.")
    if found.separation >= SEPARATES_LITTLE:
        return _("The two groups overlap along this direction: it separates them only in part.")
    return _("This direction separates little: along it the two groups mostly overlap, so moving along it changes "
             "little that tells them apart.")


def show(chosen: Chosen, mu: np.ndarray, groups: directions.Groups, key: str) -> None:
    """The direction's figures, its verdict, and both groups' positions along it; or the sentence why there is none."""
    if chosen.found is None:
        st.error(error_text(chosen.error), icon=":material/error:")
        return
    found = chosen.found
    with st.container(key=f"{key}_figures"):
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(_("Images"), f"{found.from_count} → {found.to_count}")
        c2.metric(_("Length |d|"), f"{found.length:.2f}")
        c3.metric(_("Separation"), f"{found.separation:.2f} σ",
                  help=_("The distance of the two groups' means along d, in their pooled standard deviation along "
                         "it."))
        c4.metric(_("Accuracy"), f"{100 * found.accuracy:.1f}%",
                  help=_("The share of both groups on their own side of the midpoint between their means along d "
                         "(50% is chance for equal groups)."))
    st.caption(verdict(found))
    u = found.direction / found.length
    fig = go.Figure()
    for spec, name in ((chosen.source, "A"), (chosen.target, "B")):
        fig.add_histogram(x=np.asarray(mu, np.float64)[groups.read(spec)] @ u, name=f"{name}: {spec}",
                          nbinsx=HIST_BINS, opacity=0.6)
    fig.update_layout(barmode="overlay", height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis_title=_("position along d (mu · d / |d|)"), legend={"orientation": "h"})
    st.plotly_chart(fig, key=f"{key}_histogram")

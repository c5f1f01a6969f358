"""The two groups of a direction, as a form (issue 27, item 1): each side a label, a factor's range, the Latent
map's selection or a list of test images; and what the chosen direction separates.

The form writes the two specs into explorer/state/direction.py as soon as they change (finding the direction is a
mean over encodings already computed: milliseconds). What it shows of a direction: its length |d|, the separation
(the distance of the two groups' means along d in pooled standard deviations) and the accuracy (the share of both
groups on their own side of the midpoint), with one sentence that says plainly when it separates little, and the
two groups' histograms along d.
"""

from __future__ import annotations

import re

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
    return indices_spec(text)


def indices_spec(text: str) -> str | None:
    """Test image numbers as typed (commas, spaces or semicolons between them) as a group spec, "" for text that is
    not such a list (said under the form), None for an empty box."""
    parts = [p for p in re.split(r"[\s,;]+", text or "") if p]
    if not parts:
        return None
    return ",".join(parts) if all(p.isdigit() and p.isascii() for p in parts) else ""


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


def _reset(key: str) -> None:
    """Another model: the form starts again from that model's own direction (or its defaults)."""
    for name in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{key}_") and
                 k != f"{key}_model"]:
        del st.session_state[name]


def form(path: str, key: str, data, groups: directions.Groups) -> None:
    """From and To, side by side. What the visitor changes in them becomes the model's direction at once; when the
    model has none (forgotten, or a link's refused) the button chooses it, and a form's first look chooses its
    default once per session."""
    model_key = f"{key}_model"  # not under the form's prefix: it outlives a reset
    if st.session_state.get(model_key, path) != path:
        _reset(key)
    st.session_state[model_key] = path
    current = direction.get(path)
    selection = test_selection(path, groups.n)
    left, right = st.columns(2)
    with left:
        source = _side("a", key, data, groups, selection, current[0] if current else None, 1)
    with right:
        target = _side("b", key, data, groups, selection, current[1] if current else None, 7)
    specs, seen_key = (source, target), f"{key}_seen"
    seen = st.session_state.get(seen_key)
    st.session_state[seen_key] = specs
    if source == "" or target == "":
        st.caption(_("Type test image numbers separated by commas, as 17,42,99."))
    if not source or not target:
        if current is not None and seen is not None and specs != seen:
            direction.clear(path)  # a group emptied: no figures of the groups it had
        return
    if specs == current:
        return
    if (seen is not None and specs != seen) or (current is None and seen is None and direction.may_default()):
        direction.put(path, source, target)
        return
    if current is None and st.button(_("Find this direction"), key=f"{key}_use", type="primary",
                                     icon=":material/explore:"):
        direction.put(path, source, target)
        st.rerun()


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
    along = {name: np.asarray(mu, np.float64)[groups.read(spec)] @ u
             for name, spec in (("A", chosen.source), ("B", chosen.target))}
    lo = min(v.min() for v in along.values())
    hi = max(v.max() for v in along.values())
    size = max((hi - lo) / HIST_BINS, 1e-6)  # one set of bins for both groups: their bars compare
    fig = go.Figure()
    for (name, values), title in zip(along.items(), (chosen.source_title, chosen.target_title)):
        fig.add_histogram(x=values, name=f"{name}: {title}", opacity=0.6,
                          xbins={"start": lo, "end": hi + size, "size": size})
    fig.update_layout(barmode="overlay", height=240, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      xaxis_title=_("position along d: μ · d / |d|"), yaxis_title=_("images"),
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
    st.plotly_chart(fig, key=f"{key}_histogram")

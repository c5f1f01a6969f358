"""map_canvas: the Latent map for many points, drawn by regl-scatterplot in a components v2 widget of our own.

Plotly's Scattergl stops being fluid above about 10,000 points on a machine without a GPU (0.7 frames a second
at 200,000: docs/benchmarks.md); regl-scatterplot (Lekschas, MIT; vendored in this folder as
``regl_scatterplot.js``, rebuilt by ``build.sh``) pans 200,000 points at many times that, in software GL too.
Which one draws is decided by :func:`renderer` (``VAE_EXPLORER_MAP_RENDERER``: auto, plotly or regl).

What is drawn is decided once, in the Plotly figure the page builds anyway (explorer/figures/charts.py,
density.py, ellipse.py and the selection's greying in explorer/widgets/map_selection.py); :func:`payload`
translates that figure into this widget's terms, so the two renderers can never show different things:
- every marker trace whose ``customdata`` are point indices becomes points: an Arrow table (float32 x, y
  normalised to [-1, 1]; int16 colour class; int32 index), binary, not JSON. A trace of one colour is one class
  (its name and colour in the legend); a trace coloured by values (a factor) is cut into ``RAMP`` classes of
  Viridis; points outside the trace's ``selectedpoints`` take the grey class (the selection greys the others).
  The table travels only while the browser lacks it (the widget's ``has`` state names the table it holds).
- line traces (density contours, the prior's ellipses, the visitor's posterior) become the library's line
  annotations, dashes cut in here; other marker traces (the visitor's mu) become small crosses;
- the decoded grid (a layout image) becomes the library's background image, which fills [-1, 1]^2: the
  normalisation then maps the grid's own extent onto that square, so the tiles sit where Plotly put them.
The browser reports a click (one point) or a lasso or box (shift-drag, or press and hold) as the point indices it
selected (trigger ``selected``), which :func:`selected` reads before the page redraws, as the Plotly path does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from plotly.colors import sample_colorscale

from explorer.i18n import _

FRONTEND = Path(__file__).resolve().parent
RENDERER_ENV = "VAE_EXPLORER_MAP_RENDERER"
RENDERERS = ("auto", "plotly", "regl")
MAX_PLOTLY_POINTS = 10_000   # auto: above this many points the map is drawn by this widget
RAMP = 64                    # classes of a continuous colour scale
GREY = "#c4c4c4"             # the points outside a selection (explorer/widgets/map_selection.py's UNSELECTED)
HEIGHT = 560
CROSS = 0.012                # half the arms of a cross, as a share of the plotted extent

_component = st.components.v2.component(
    "map_canvas",
    html=(FRONTEND / "canvas.html").read_text(encoding="utf-8"),
    css=(FRONTEND / "canvas.css").read_text(encoding="utf-8"),
    js=(FRONTEND / "regl_scatterplot.js").read_text(encoding="utf-8") + "\n"
    + (FRONTEND / "canvas.js").read_text(encoding="utf-8"),
)


def renderer(n: int) -> str:
    """'plotly' or 'regl' for a map of N points: the operator's VAE_EXPLORER_MAP_RENDERER, or by the count."""
    chosen = os.environ.get(RENDERER_ENV, "").strip().lower() or "auto"
    if chosen not in RENDERERS:
        st.warning(_("{name} must be auto, plotly or regl, not {value!r}; the map chooses by its number of "
                     "points.").format(name=RENDERER_ENV, value=chosen))
        chosen = "auto"
    if chosen == "auto":
        return "regl" if n > MAX_PLOTLY_POINTS else "plotly"
    return chosen


def rgba(colour: str) -> list[float]:
    """A CSS colour as Plotly writes them ('#1f77b4', 'rgb(68, 1, 84)', 'rgba(70,70,70,0.95)') as the [r, g, b, a]
    in 0..1 the library takes (it reads hex and arrays only)."""
    text = colour.strip().lower()
    if text.startswith("#"):
        h = text[1:]
        h = "".join(ch * 2 for ch in h) if len(h) in (3, 4) else h
        values = [int(h[k:k + 2], 16) / 255 for k in range(0, len(h), 2)]
        return (values + [1.0])[:4]
    if text.startswith("rgb"):
        parts = [float(v) for v in text[text.index("(") + 1:text.rindex(")")].split(",")]
        return [parts[0] / 255, parts[1] / 255, parts[2] / 255, parts[3] if len(parts) > 3 else 1.0]
    return [0.12, 0.47, 0.71, 1.0]  # a named colour: Plotly's first


def _indices(trace) -> np.ndarray | None:
    data = getattr(trace, "customdata", None)
    if data is None or getattr(trace, "mode", None) != "markers" or not len(data):
        return None
    return np.asarray(data).reshape(len(data), -1)[:, 0].astype(np.int64)


def _runs(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """The pieces of a polyline that Plotly breaks at missing values (None or NaN), each (K, 2)."""
    xy = np.stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)], axis=1)
    bounds = [-1, *np.flatnonzero(~np.isfinite(xy).all(axis=1)), len(xy)]
    return [xy[a + 1:b] for a, b in zip(bounds[:-1], bounds[1:]) if b - a - 1 >= 2]


def _dashes(piece: np.ndarray, on: float) -> list[np.ndarray]:
    """PIECE cut into dashes of length ON with gaps as long (in data units), for a dashed line."""
    steps = np.linalg.norm(np.diff(piece, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    if along[-1] <= 0:
        return [piece]
    out = []
    for start in np.arange(0.0, along[-1], 2 * on):
        t = np.linspace(start, min(start + on, along[-1]), 6)
        out.append(np.stack([np.interp(t, along, piece[:, 0]), np.interp(t, along, piece[:, 1])], axis=1))
    return out


def _image(fig) -> tuple[str, tuple[float, float, float, float]] | None:
    """The figure's layout image (the decoded grid), blended on white by its opacity, as a PNG data URL; and
    the extent it covers (x0, x1, y0, y1)."""
    images = list(getattr(fig.layout, "images", None) or [])
    if not images:
        return None
    im = images[0]
    source = im.source
    if isinstance(source, str):
        source = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
    rgb = np.asarray(source.convert("RGB"), dtype=np.float32)
    alpha = 1.0 if im.opacity is None else float(im.opacity)
    blended = (alpha * rgb + (1 - alpha) * 255.0 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(blended).save(buffer, format="PNG")
    x0, y1 = float(im.x), float(im.y)
    return ("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
            (x0, x0 + float(im.sizex), y1 - float(im.sizey), y1))


def _colour_classes(trace, palette: list[str], legend: list[dict]) -> np.ndarray:
    """Each point's colour class, extending PALETTE and LEGEND with what this trace shows."""
    colour = trace.marker.color
    n = len(trace.x)
    if colour is None or isinstance(colour, str):
        palette.append(rgba(colour or "#1f77b4"))
        legend.append({"name": trace.name or "", "color": palette[-1]})
        return np.full(n, len(palette) - 1, dtype=np.int16)
    values = np.asarray(colour, dtype=np.float64)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    base = len(palette)
    palette.extend(rgba(c) for c in sample_colorscale("Viridis", [k / (RAMP - 1) for k in range(RAMP)],
                                                      colortype="rgb"))
    legend.append({"name": trace.name or "", "ramp": palette[base:], "low": f"{lo:.2f}", "high": f"{hi:.2f}"})
    scaled = np.zeros(n) if hi <= lo else (values - lo) / (hi - lo)
    return (base + np.clip(np.round(scaled * (RAMP - 1)), 0, RAMP - 1)).astype(np.int16)


def payload(fig) -> dict:
    """What the widget draws, read off the map's Plotly figure FIG (see the module's docstring): ``points`` (a
    DataFrame x, y, c, i), ``palette``, ``legend``, ``lines``, ``image``, ``extent``, axis titles, ``key``."""
    palette: list[str] = []
    legend: list[dict] = []
    xs, ys, cs, ids, greyed = [], [], [], [], []
    for trace in fig.data:
        index = _indices(trace)
        if index is None:
            continue
        xs.append(np.asarray(trace.x, dtype=np.float64))
        ys.append(np.asarray(trace.y, dtype=np.float64))
        ids.append(index)
        cs.append(_colour_classes(trace, palette, legend))
        mask = np.zeros(len(index), bool)
        if trace.selectedpoints is not None:
            mask[:] = True
            mask[np.asarray(trace.selectedpoints, dtype=np.int64)] = False
        greyed.append(mask)
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    c = np.concatenate(cs) if cs else np.zeros(0, np.int16)
    i = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    grey = np.concatenate(greyed) if greyed else np.zeros(0, bool)
    if grey.any():
        palette.append(rgba(GREY))
        c = np.where(grey, len(palette) - 1, c).astype(np.int16)
    order = np.argsort(~grey, kind="stable")  # the greyed first: the selection is drawn over them
    x, y, c, i = x[order], y[order], c[order], i[order]
    image = _image(fig)
    if image is not None:
        x0, x1, y0, y1 = image[1]
    elif len(x):
        pad_x, pad_y = 0.04 * (np.ptp(x) or 1.0), 0.04 * (np.ptp(y) or 1.0)
        x0, x1, y0, y1 = x.min() - pad_x, x.max() + pad_x, y.min() - pad_y, y.max() + pad_y
    else:
        x0, x1, y0, y1 = -1.0, 1.0, -1.0, 1.0
    extent = (float(x0), float(x1), float(y0), float(y1))

    def norm(px, py):
        return (2 * (np.asarray(px) - x0) / (x1 - x0) - 1, 2 * (np.asarray(py) - y0) / (y1 - y0) - 1)

    nx, ny = norm(x, y)
    points = pd.DataFrame({"x": nx.astype(np.float32), "y": ny.astype(np.float32), "c": c.astype(np.int16),
                           "i": i.astype(np.int32)})
    lines = _lines(fig, norm, extent, legend)
    digest = hashlib.sha1()
    for column in ("x", "y", "c", "i"):
        digest.update(np.ascontiguousarray(points[column].to_numpy()).tobytes())
    titles = (fig.layout.xaxis.title.text or "", fig.layout.yaxis.title.text or "")
    return {"points": points, "key": digest.hexdigest()[:16], "palette": palette, "legend": legend, "lines": lines,
            "image": image[0] if image else None, "extent": extent, "titles": titles}


def _lines(fig, norm, extent, legend: list[dict]) -> list[dict]:
    """Line traces as polylines in the widget's [-1, 1] square (dashes cut), other markers as crosses."""
    out: list[dict] = []
    span = max(extent[1] - extent[0], extent[3] - extent[2])
    for trace in fig.data:
        mode = getattr(trace, "mode", None) or ""
        if _indices(trace) is not None or trace.x is None:
            continue
        if "lines" in mode:
            colour, width = trace.line.color or "#000000", float(trace.line.width or 1.5)
            pieces = _runs(trace.x, trace.y)
            if trace.line.dash and trace.line.dash != "solid":
                pieces = [d for p in pieces for d in _dashes(p, 0.012 * span)]
            if trace.showlegend is not False and trace.name:
                legend.append({"name": trace.name, "line": rgba(colour), "dash": bool(trace.line.dash and
                                                                                 trace.line.dash != "solid")})
        elif "markers" in mode and isinstance(trace.marker.color, str) and "rgba(0,0,0,0)" not in trace.marker.color:
            colour, width, arm = trace.marker.color, 2.5, CROSS * span
            pieces = [np.array([[px + sx * arm, py + sy * arm], [px - sx * arm, py - sy * arm]])
                      for px, py in zip(trace.x, trace.y) for sx, sy in ((1, 1), (1, -1))]
        else:
            continue
        for piece in pieces:
            px, py = norm(piece[:, 0], piece[:, 1])
            out.append({"vertices": np.round(np.stack([px, py], axis=1), 5).tolist(), "color": rgba(colour),
                        "width": width})
    return out


def _state(key: str):
    value = st.session_state.get(key)
    return value if hasattr(value, "get") else {}


def selected(key: str, n: int) -> np.ndarray | None:
    """The point indices (below N, sorted, each once) the visitor's click or lasso sent in this run; None when
    this run was not caused by one. Read it before the map is drawn again."""
    sent = _state(key).get("selected")
    if not isinstance(sent, (list, tuple)):
        return None
    found = [int(v) for v in sent if isinstance(v, (int, float)) and not isinstance(v, bool)
             and float(v).is_integer() and 0 <= v < n]
    return np.unique(np.asarray(found, dtype=np.int64))


def draw(fig, key: str, picked: int | None = None) -> None:
    """The map FIG drawn by regl-scatterplot (container ``st-key-KEY``); PICKED is ringed."""
    drawn = payload(fig)
    holds = _state(key).get("has")
    texts = {"points": _("{n} points"), "hint": _("Drag to pan, wheel to zoom, click a point to open it; hold "
                                                  "Shift and drag (or press and hold) to select with a lasso or a box."),
             "reset": _("Reset view"), "lasso": _("Lasso"), "box": _("Box")}
    _component(
        key=key,
        data={**{k: v for k, v in drawn.items() if k != "points"},
              "points": None if holds == drawn["key"] else drawn["points"], "n": len(drawn["points"]),
              "picked": None if picked is None else int(picked), "height": HEIGHT, "texts": texts},
        default={"has": None},
        on_has_change=lambda: None,  # a new "has" reruns: the next render knows it need not send the points
        on_selected_change=lambda: None,
    )

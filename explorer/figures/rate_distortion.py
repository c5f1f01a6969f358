"""The rate-distortion planes of the saved runs (Balance): one plane per data set, since the nats of two data
sets are not comparable (nor those of two likelihoods: one colour each). Every point is named by its run;
labels are placed where they overlap no other label and no point, and a name that finds no free place is
left to the hover, which keeps every detail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.figures.charts import PALETTE, PICKED_COLOR
from explorer.i18n import _, likelihood_word

# Where a label may go around its point, in the order tried.
POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "top left",
             "bottom right", "bottom left")
CHAR_PX, LINE_PX, GAP_PX = 7.5, 15.0, 9.0  # a label's width per character and height; its gap to the point
PLOT_PX = 1000.0  # the width the planes share on a wide page (an estimate on the narrow side: labels fit wider)
SHORT = 18        # a run's name is cut to this many characters on the plane (the hover has all of it)
COLUMNS = 3       # planes per row


def short_name(name: str) -> str:
    return name if len(name) <= SHORT else name[:SHORT - 1] + "…"


def _label_box(x: float, y: float, position: str, text: str) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) in pixels, y upwards, of TEXT at POSITION around the point (x, y)."""
    width, (vertical, horizontal) = len(text) * CHAR_PX, position.split()
    y0 = {"top": y + GAP_PX, "bottom": y - GAP_PX - LINE_PX, "middle": y - LINE_PX / 2}[vertical]
    x0 = {"center": x - width / 2, "right": x + GAP_PX, "left": x - GAP_PX - width}[horizontal]
    return x0, y0, x0 + width, y0 + LINE_PX


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(px: Sequence[float], py: Sequence[float], texts: Sequence[str], width: float,
                 height: float) -> list[str | None]:
    """For points at pixels (px, py) in a plot of WIDTH x HEIGHT: each label's position (POSITIONS), or None
    where every position would overlap a label already placed or a point, or leave the plot."""
    points = [(x - GAP_PX / 2, y - GAP_PX / 2, x + GAP_PX / 2, y + GAP_PX / 2) for x, y in zip(px, py)]
    placed: list[tuple[float, ...]] = []
    chosen: list[str | None] = [None] * len(texts)
    for i in sorted(range(len(texts)), key=lambda k: (px[k], py[k])):
        for position in POSITIONS:
            box = _label_box(px[i], py[i], position, texts[i])
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
            if inside and not any(_overlap(box, other) for other in placed + points[:i] + points[i + 1:]):
                chosen[i] = position
                placed.append(box)
                break
    return chosen


def _range(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = max(0.15 * (high - low), 0.05 * max(abs(low), abs(high)), 0.5)
    return low - pad, high + pad


def _same(a: Any, b: Any) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def rate_distortion(runs: Sequence[Any], current: str | None = None, picked: Sequence[str] = (),
                    plane_height: int = 380) -> go.Figure:
    """One plane per data set: rate = test KL (x), distortion = test recon (y), each point named by its run; the
    current run outlined in black, runs picked for comparison in orange; one colour per likelihood.

    ``runs`` are ``training.models.catalogue.RunSummary`` (or anything with path, name, beta, likelihood,
    dataset, latent_dim, test_kl, test_recon); runs without test figures are left out.
    """
    scored = [r for r in runs if r.test_kl is not None and r.test_recon is not None]
    datasets = sorted({r.dataset for r in scored})
    likelihoods = sorted({r.likelihood for r in scored})
    cols = max(1, min(COLUMNS, len(datasets)))
    rows = max(1, math.ceil(len(datasets) / cols))
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.07, vertical_spacing=0.35 / rows,
                        subplot_titles=[_("data set {name}").format(name=d) for d in datasets] or None)
    width, height = PLOT_PX / cols, plane_height - 90.0
    hover = ("<b>%{customdata[0]}</b><br>%{customdata[1]} · z = %{customdata[2]} · β = %{customdata[3]} · "
             "%{customdata[4]}<br>" + _("KL {kl} · recon {recon} nats").format(kl="%{x:.2f}", recon="%{y:.2f}")
             + "<extra></extra>")
    for n, dataset in enumerate(datasets):
        row, col = n // cols + 1, n % cols + 1
        members = [r for r in scored if r.dataset == dataset]
        (x0, x1), (y0, y1) = _range([r.test_kl for r in members]), _range([r.test_recon for r in members])
        texts = [short_name(r.name) for r in members]
        where = dict(zip((id(r) for r in members), place_labels(
            [(r.test_kl - x0) / (x1 - x0) * width for r in members],
            [(r.test_recon - y0) / (y1 - y0) * height for r in members], texts, width, height)))
        for lik in likelihoods:
            group = [r for r in members if r.likelihood == lik]
            if not group:
                continue
            is_current = [current is not None and _same(r.path, current) for r in group]
            is_picked = [any(_same(r.path, p) for p in picked) for r in group]
            fig.add_trace(go.Scatter(
                x=[r.test_kl for r in group], y=[r.test_recon for r in group], mode="markers+text",
                name=likelihood_word(lik), legendgroup=lik,
                showlegend=not any(t.legendgroup == lik for t in fig.data),
                text=[short_name(r.name) if where[id(r)] else "" for r in group],
                textposition=[where[id(r)] or "top center" for r in group],
                customdata=[[r.name, r.dataset, r.latent_dim, f"{r.beta:g}", likelihood_word(lik)] for r in group],
                marker={"size": [16 if c or p else 10 for c, p in zip(is_current, is_picked)],
                        "color": PALETTE[likelihoods.index(lik) % len(PALETTE)],
                        "line": {"width": [3 if c or p else 0 for c, p in zip(is_current, is_picked)],
                                 "color": ["black" if c else PICKED_COLOR for c in is_current]}},
                hovertemplate=hover,
            ), row=row, col=col)
        fig.update_xaxes(range=[x0, x1], title_text=_("rate: test KL (nats per image)"), row=row, col=col)
        fig.update_yaxes(range=[y0, y1], row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text=_("distortion: test −ln q(x|z) (nats per image)"), row=row, col=col)
    fig.update_layout(height=plane_height * rows + 40, margin={"l": 70, "r": 10, "t": 40, "b": 90}, showlegend=True,
                      legend={"title": {"text": _("decoder")}, "orientation": "h", "y": -70 / (plane_height * rows),
                              "yanchor": "top", "x": 0})
    return fig

"""Plotly figures for the explorer: functions of arrays and records, in the visitor's language.

Their words (titles, axes, legends, hover texts) go through explorer/i18n.py; nothing else here
touches Streamlit.

Latent scatter (WebGL, one trace per class, ``customdata`` = test-set index), prior contours,
manifold-grid overlay, loss curves, KL per dimension (the rate-distortion planes: rate_distortion.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from explorer.figures.images import pil_image
from explorer.i18n import _

PALETTE = qualitative.D3 + qualitative.Pastel  # >= 10 distinct classes
ACTIVE_COLOR = "#1f77b4"
PICKED_COLOR = "#ff7f0e"  # runs picked for comparison
INACTIVE_COLOR = "#c7c7c7"
TRAIN_DASH, TEST_DASH = "solid", "dot"


# ---------------------------------------------------------------- latent map

def latent_scatter(coords: np.ndarray, indices: np.ndarray, labels: np.ndarray | None = None,
                   label_names: Sequence[str] | None = None, color_values: np.ndarray | None = None,
                   color_title: str = "", axis_titles: tuple[str, str] = ("", ""),
                   marker_size: int = 5, height: int = 560) -> go.Figure:
    """mu(x) in the plane. ``customdata`` of every point is its test-set index.

    ``labels`` (N,) int: one Scattergl trace per class (click the legend to hide one).
    ``color_values`` (N,) float: one trace coloured on a continuous scale (a factor of 'shapes').
    """
    coords = np.asarray(coords)
    indices = np.asarray(indices)
    hover = _("index {i}").format(i="%{customdata}") + "<br>(%{x:.2f}, %{y:.2f})"
    fig = go.Figure()
    if labels is not None:
        labels = np.asarray(labels).astype(int)
        for k, cls in enumerate(np.unique(labels)):
            sel = labels == cls
            name = label_names[cls] if label_names is not None and 0 <= cls < len(label_names) else str(cls)
            fig.add_trace(go.Scattergl(
                x=coords[sel, 0], y=coords[sel, 1], customdata=indices[sel], mode="markers", name=name,
                marker={"size": marker_size, "color": PALETTE[k % len(PALETTE)], "opacity": 0.8},
                hovertemplate=f"{name}<br>{hover}<extra></extra>",
            ))
    elif color_values is not None:
        fig.add_trace(go.Scattergl(
            x=coords[:, 0], y=coords[:, 1], customdata=indices, mode="markers", name=color_title,
            marker={"size": marker_size, "color": np.asarray(color_values), "colorscale": "Viridis",
                    "showscale": True, "colorbar": {"title": {"text": color_title}}, "opacity": 0.85},
            hovertemplate=f"{color_title} %{{marker.color:.2f}}<br>{hover}<extra></extra>",
        ))
    else:
        fig.add_trace(go.Scattergl(
            x=coords[:, 0], y=coords[:, 1], customdata=indices, mode="markers", name=_("test images"),
            marker={"size": marker_size, "color": ACTIVE_COLOR, "opacity": 0.8},
            hovertemplate=f"{hover}<extra></extra>",
        ))
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"itemsizing": "constant"},
        xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], clickmode="event+select", dragmode="pan",
    )
    return fig


def add_manifold_overlay(fig: go.Figure, grid_image: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                         opacity: float = 0.55, pad: int = 0) -> go.Figure:
    """Draw the decoded grid (tiles centred on the grid points xs x ys) under the scatter."""
    dx = (xs[-1] - xs[0]) / max(1, len(xs) - 1)
    dy = (ys[0] - ys[-1]) / max(1, len(ys) - 1)
    fig.add_layout_image(
        source=pil_image(grid_image), xref="x", yref="y", x=float(xs[0] - dx / 2), y=float(ys[0] + dy / 2),
        sizex=float(xs[-1] - xs[0] + dx), sizey=float(ys[0] - ys[-1] + dy), sizing="stretch",
        opacity=opacity, layer="below",
    )
    return fig


def selected_index(selection: Mapping[str, Any] | None) -> int | None:
    """Test-set index of the first selected point of a ``st.plotly_chart`` selection event, or None.

    Accepts the event itself ({"selection": {...}}) or its ``selection`` part; the index is the
    point's ``customdata`` (a number, or a one-element list).
    """
    if not selection:
        return None
    sel = selection.get("selection", selection)
    points = (sel or {}).get("points") or []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is None:
            continue
        try:
            return int(data)
        except (TypeError, ValueError):
            continue
    return None


def axis_titles(projection) -> tuple[str, str]:
    """The axes of a latent-map projection in the visitor's language."""
    if projection.method == "pca":
        share = projection.variance_share or (0.0, 0.0)
        return tuple(_("PC{k} ({pct}% of variance)").format(k=k + 1, pct=f"{100 * share[k]:.0f}") for k in range(2))
    if projection.method == "axis":  # training.analysis.directions.axis_projection: "A → B (x% of variance)"
        share = projection.variance_share or (0.0, 0.0)
        name = projection.axis_titles[0].rpartition(" (")[0] or projection.axis_titles[0]
        return (_("{direction} ({pct}% of variance)").format(direction=name, pct=f"{100 * share[0]:.0f}"),
                _("first principal direction orthogonal to it ({pct}%)").format(pct=f"{100 * share[1]:.0f}"))
    if projection.method in ("tsne", "umap"):
        return projection.axis_titles  # names, not words
    return projection.axis_titles  # z_i, z_j


# ---------------------------------------------------------------- training curves

def loss_formula(beta: float, warmup_epochs: float = 0.0, cycles: int = 0, free_bits: float = 0.0,
                 recon: str = "recon") -> str:
    """``training.vae.objective.loss_formula``, imported when first drawn (that module imports torch)."""
    from training.vae.objective import loss_formula as formula

    return formula(beta, warmup_epochs, cycles, free_bits, recon=recon)


def _series(history: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    return [h.get(key) for h in history]


def loss_curves(history: Sequence[Mapping[str, Any]], height: int = 360, train_loss: str | None = None) -> go.Figure:
    """Per epoch: reconstruction -ln q(x|z), KL (E4) and beta*KL, and the two totals: the training objective
    (what the optimiser minimised: beta and free bits included) and the test -ELBO (recon + KL, no floor).
    ``train_loss`` names the objective (``training.vae.objective.loss_formula``; by default in the visitor's
    words)."""
    epochs = _series(history, "epoch")
    recon = _("recon")
    train_loss = train_loss or loss_formula(2.0, recon=recon)
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        _("Reconstruction −ln q(x|z)"), "KL(p(z|x) ‖ q(z))", _("Totals (training objective, test −ELBO)")))

    def line(col: int, key: str, name: str, color: str, dash: str, values=None) -> None:
        y = values if values is not None else _series(history, key)
        fig.add_trace(go.Scatter(x=epochs, y=y, name=name, mode="lines", legendgroup=name,
                                 line={"color": color, "dash": dash}), row=1, col=col)

    line(1, "train_recon", _("train recon"), "#1f77b4", TRAIN_DASH)
    line(1, "test_recon", _("test recon"), "#1f77b4", TEST_DASH)
    line(2, "train_kl", _("train KL"), "#d62728", TRAIN_DASH)
    line(2, "test_kl", _("test KL"), "#d62728", TEST_DASH)
    beta_kl = [(h.get("beta") or 0.0) * h["train_kl"] if h.get("train_kl") is not None else None for h in history]
    line(2, "", _("β · train KL"), "#ff7f0e", "dash", values=beta_kl)
    line(3, "train_loss", _("training objective ({formula})").format(formula=train_loss), "#2ca02c", TRAIN_DASH)
    line(3, "test_neg_elbo", _("test −ELBO ({formula})").format(formula=loss_formula(1.0, recon=recon)), "#2ca02c",
         TEST_DASH)
    fig.update_xaxes(title_text=_("epoch"))
    fig.update_yaxes(title_text=_("nats per image"), row=1, col=1)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def train_loss_formula(beta: float, warmup_epochs: float = 0.0, cycles: int = 0, free_bits: float = 0.0) -> str:
    """The training objective of these settings as a formula in the visitor's words ("重建 + β·KL")."""
    return loss_formula(beta, warmup_epochs, cycles, free_bits, recon=_("recon"))


def loss_note(beta: float, warmup_epochs: float = 0.0, cycles: int = 0, free_bits: float = 0.0) -> str:
    """One sentence on how the training objective differs from the bound recon + KL (E1): the weight beta,
    its schedule, free bits (the formula itself is ``training.vae.objective.loss_formula``)."""
    if cycles:
        parts = [_("β(t) rose from 0 to {beta} over the first half of each of {cycles} cycles, then held").format(
            beta=f"{beta:g}", cycles=cycles)]
    elif warmup_epochs:
        parts = [_("β(t) rose from 0 to {beta} over the first {epochs} epochs, then held").format(
            beta=f"{beta:g}", epochs=f"{warmup_epochs:g}")]
    else:
        parts = [f"β = {beta:g}"]
    if free_bits > 0:
        parts.append(_("free bits: each dimension's KL counted as at least {nats} nats").format(nats=f"{free_bits:g}"))
    return _("The training objective was {formula} ({how}); the test −ELBO is {bound}, a bound on −ln q(x) without "
             "β or a free-bits floor.").format(
        formula=train_loss_formula(beta, warmup_epochs, cycles, free_bits), how=_("; ").join(parts),
        bound=loss_formula(1.0, recon=_("recon")))


def kl_bars(kl_per_dim: np.ndarray | Sequence[float], active: np.ndarray | Sequence[bool],
            height: int = 320) -> go.Figure:
    """KL_k per latent dimension (E4) as bars, active units coloured, inactive grey."""
    kl = np.asarray(kl_per_dim, dtype=float)
    active = np.asarray(active, dtype=bool)
    names = [f"z_{k}" for k in range(len(kl))]
    colors = [ACTIVE_COLOR if a else INACTIVE_COLOR for a in active]
    status = [_("active") if a else _("inactive") for a in active]
    fig = go.Figure(go.Bar(
        x=names, y=kl, marker={"color": colors}, customdata=status, name=_("KL per dimension"),
        hovertemplate="%{x}: " + _("{kl} nats ({status})").format(kl="%{y:.3f}", status="%{customdata}")
                      + "<extra></extra>",
    ))
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, yaxis_title=_("KL_k (nats)"),
        title={"text": _("KL per dimension · {active} of {total} active").format(active=int(active.sum()),
                                                                                total=len(kl))},
    )
    return fig


def compare_curves(runs: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], height: int = 340) -> go.Figure:
    """Test reconstruction, KL and -ELBO per epoch of several runs, one colour per run (the first is the
    current one, drawn thicker)."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=(_("test −ln q(x|z)"), _("test KL"), _("test −ELBO")))
    for k, (name, history) in enumerate(runs):
        epochs = _series(history, "epoch")
        for col, key in enumerate(("test_recon", "test_kl", "test_neg_elbo"), 1):
            fig.add_trace(go.Scatter(x=epochs, y=_series(history, key), name=name, legendgroup=name, mode="lines",
                                     showlegend=col == 1, line={"color": PALETTE[k % len(PALETTE)],
                                                                "width": 3 if k == 0 else 1.5}), row=1, col=col)
    fig.update_xaxes(title_text=_("epoch"))
    fig.update_yaxes(title_text=_("nats per image"), row=1, col=1)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.3})
    return fig


# ---------------------------------------------------------------- known factors (training/analysis/disentangle.py)

def factor_matrix(nmi: np.ndarray, dim_titles: Sequence[str], factor_titles: Sequence[str],
                  height: int | None = None) -> go.Figure:
    """NMI[k, f] = I(z_k; v_f) / H(v_f) as a heatmap: one row per latent dimension, one column per factor."""
    nmi = np.asarray(nmi, dtype=float)
    fig = go.Figure(go.Heatmap(
        z=nmi, x=list(factor_titles), y=list(dim_titles), zmin=0.0, zmax=1.0, colorscale="Blues",
        text=[[f"{v:.2f}" for v in row] for row in nmi], texttemplate="%{text}",
        colorbar={"title": {"text": "NMI"}},
        hovertemplate="%{y} · %{x}: " + _("{share} of the factor's entropy").format(share="%{z:.2f}")
                      + "<extra></extra>",
    ))
    fig.update_layout(height=height or 120 + 28 * len(dim_titles), margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      yaxis={"autorange": "reversed"},
                      title={"text": _("What each dimension tells about each factor (I(z_k; v_f) / H(v_f))")})
    return fig


def mig_curve(history: Sequence[Mapping[str, Any]], height: int = 300) -> go.Figure:
    """The mutual information gap per epoch (test set)."""
    rows = [h for h in history if h.get("mig") is not None]
    fig = go.Figure(go.Scatter(x=[h["epoch"] for h in rows], y=[h["mig"] for h in rows], mode="lines+markers",
                               name="MIG", line={"color": ACTIVE_COLOR}))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis_title=_("epoch"),
                      yaxis={"title": {"text": "MIG"}, "range": [0, max(0.05, max((h["mig"] for h in rows), default=0)) * 1.1]},
                      title={"text": _("Mutual information gap per epoch")})
    return fig

"""Plotly figures of a beta sweep (the Sweep page): functions of arrays, in the visitor's language.

One point per run, joined in beta order, each labelled with its beta: the path the runs trace as the
weight on the KL grows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.i18n import _

LINE_COLOR = "#1f77b4"


def _in_beta_order(betas: Sequence[float], *columns: Sequence[float]) -> tuple[list[float], ...]:
    """BETAS and each column, sorted by beta, as lists (a figure's JSON then holds plain numbers)."""
    order = np.argsort(np.asarray(betas, dtype=float), kind="stable")
    return tuple(np.asarray(c, dtype=float)[order].tolist() for c in (betas, *columns))


def rate_distortion_curve(betas: Sequence[float], rate: Sequence[float], distortion: Sequence[float],
                          names: Sequence[str], height: int = 420) -> go.Figure:
    """Rate = test KL (x) against distortion = test -ln q(x|z) (y), nats per image, one point per beta."""
    order = np.argsort(np.asarray(betas, dtype=float), kind="stable")
    b, kl, recon = _in_beta_order(betas, rate, distortion)
    names = [names[i] for i in order]
    fig = go.Figure(go.Scatter(
        x=kl, y=recon, mode="lines+markers+text", text=[f"β={v:g}" for v in b], textposition="top right",
        customdata=names, name=_("runs of the sweep"), marker={"size": 10, "color": LINE_COLOR},
        line={"color": LINE_COLOR},
        hovertemplate=("%{customdata}<br>%{text}<br>"
                       + _("KL {kl} · recon {recon} nats").format(kl="%{x:.2f}", recon="%{y:.2f}")
                       + "<extra></extra>"),
    ))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                      xaxis_title=_("rate: test KL (nats per image)"),
                      yaxis_title=_("distortion: test −ln q(x|z) (nats per image)"))
    return fig


def mig_curve(betas: Sequence[float], mig: Sequence[float], height: int = 340) -> go.Figure:
    """MIG (0 to 1) against beta, on a log axis: a sweep's betas are usually spaced by factors."""
    b, m = _in_beta_order(betas, mig)
    fig = go.Figure(go.Scatter(
        x=b, y=m, mode="lines+markers+text", text=[f"β={x:g}: {v:.2f}" for x, v in zip(b, m)],
        textposition="top center",
        name="MIG", marker={"size": 10, "color": LINE_COLOR}, line={"color": LINE_COLOR},
        hovertemplate="β=%{x:g}<br>MIG %{y:.3f}<extra></extra>",
    ))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                      xaxis={"title": {"text": "β"}, "type": "log", "tickvals": b, "ticktext": [f"{x:g}" for x in b]},
                      yaxis={"title": {"text": _("MIG (mutual information gap)")}, "range": [0, 1.05]})
    return fig

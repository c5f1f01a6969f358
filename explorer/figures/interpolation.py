"""What the prior says along the Interpolate page's two paths (issue 27, item 5): at every step t the prior
log-density ln q(z) = ln N(z; 0, I) = -(|z|^2 + Z ln 2π) / 2 (E2) and the norm |z|, for the straight line and for
the great circle (SLERP), beside the typical norm √Z of prior samples.

The density is highest at z = 0, yet prior samples almost never come near it: in Z dimensions |z| concentrates
near √Z. The straight line between two typical points dips to a lower norm halfway (a higher density, but a
region the prior rarely visits); the great circle between points of equal norm keeps it.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.i18n import _
from training.vae.latent_space import prior_log_density

COLOURS = ("#1f77b4", "#d62728")  # linear, spherical
TYPICAL_COLOUR = "rgba(90,90,90,0.9)"


def prior_along(paths: dict[str, np.ndarray], height: int = 260) -> go.Figure:
    """Two panels over t from 0 to 1: ln q(z) and |z| of each path in PATHS (name -> (n, Z) latents), with the
    typical norm √Z dashed in the second."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12)
    z_dim = 1
    for k, (name, z) in enumerate(paths.items()):
        z = np.asarray(z, np.float64)
        z_dim, t = z.shape[-1], np.linspace(0.0, 1.0, len(z))
        style = {"mode": "lines+markers", "name": name, "legendgroup": name, "marker": {"size": 5},
                 "line": {"color": COLOURS[k % len(COLOURS)], "width": 2}}
        fig.add_trace(go.Scatter(x=t, y=prior_log_density(z), hovertemplate="t = %{x:.2f}<br>ln q(z) = %{y:.2f}"
                                 "<extra>" + name + "</extra>", **style), row=1, col=1)
        fig.add_trace(go.Scatter(x=t, y=np.linalg.norm(z, axis=-1), showlegend=False, hovertemplate="t = %{x:.2f}"
                                 "<br>|z| = %{y:.2f}<extra>" + name + "</extra>", **style), row=1, col=2)
    typical = math.sqrt(z_dim)
    fig.add_trace(go.Scatter(x=[0.0, 1.0], y=[typical, typical], mode="lines", name=_("typical norm √Z"),
                             line={"color": TYPICAL_COLOUR, "width": 1.5, "dash": "dash"},
                             hovertemplate=f"√{z_dim} = {typical:.2f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(title_text="t", range=[-0.02, 1.02])
    fig.update_yaxes(title_text=_("ln q(z), nats"), row=1, col=1)
    fig.update_yaxes(title_text="|z|", row=1, col=2)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      legend={"orientation": "h", "y": -0.3})
    return fig

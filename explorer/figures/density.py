"""The aggregate posterior against the prior on the latent map (training/analysis/aggregate.py has the math).

Two sets of contours that mean the same thing, the regions holding 50%, 90% and 99% of the mass: the prior
q(z) = N(0, I) (E2) mapped into the plane, in closed form (dashed grey ellipses; raw dims and PCA only), and
the encodings mu(x) (E3), a kernel density of the plotted points (solid black). Both are WebGL lines on white
halos, so they are drawn over the points and the decoded grid, not hidden under them; they take no clicks (no
markers to select).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explorer.figures.ellipse import ellipse_points
from explorer.i18n import _
from training.analysis import aggregate

PRIOR_COLOR = "rgba(70,70,70,0.95)"
POINTS_COLOR = "#000000"
WIDTHS = (2.6, 1.9, 1.3)  # the innermost region's line the widest
HALO = "rgba(255,255,255,0.8)"  # under each line: it stays seen over the decoded grid's dark tiles and dense points


def _line(fig: go.Figure, xy: np.ndarray, group: str, name: str, first: bool, color: str, width: float,
          dash: str, label: str) -> None:
    """One contour: a white halo, then the line (the one named in the legend, once per GROUP)."""
    x, y = np.round(xy[:, 0], 4), np.round(xy[:, 1], 4)
    fig.add_trace(go.Scattergl(x=x, y=y, mode="lines", legendgroup=group, showlegend=False, hoverinfo="skip",
                               connectgaps=False, line={"color": HALO, "width": width + 2.5}))
    fig.add_trace(go.Scattergl(x=x, y=y, mode="lines", name=name, legendgroup=group, showlegend=first,
                               connectgaps=False, line={"color": color, "width": width, "dash": dash},
                               hovertemplate=f"{label}<extra></extra>"))


def _percent(p: float) -> str:
    return f"{100 * p:g}%"


def _masses_text(masses) -> str:
    return ", ".join(_percent(p) for p in masses)


def add_prior(fig: go.Figure, projection, masses=aggregate.MASSES) -> bool:
    """FIG with the prior's regions of MASSES on PROJECTION's plane (ellipses of radius sqrt(-2 ln(1 - p)) in
    the Mahalanobis metric); False, nothing drawn, where the plane is no linear map of z (t-SNE, UMAP)."""
    found = aggregate.prior_on_plane(projection)
    if found is None:
        return False
    mean, cov = found
    name = _("prior q(z) = N(0, I): {masses}").format(masses=_masses_text(masses))
    for k, (p, r) in enumerate(zip(masses, aggregate.mass_radius(masses))):
        _line(fig, ellipse_points(mean, cov, float(r)), "prior", name, k == 0, PRIOR_COLOR, WIDTHS[k % len(WIDTHS)],
              "dash", _("prior q(z): {p} of its mass").format(p=_percent(p)))
    return True


def add_encodings(fig: go.Figure, coords: np.ndarray, masses=aggregate.MASSES) -> aggregate.Density:
    """FIG with the edges of the regions holding MASSES of the points COORDS (N, 2), read from their kernel
    density on a grid; the density returned (its bandwidth for the caption)."""
    density = aggregate.kde_grid(coords, masses)
    name = _("encodings μ(x): {masses}").format(masses=_masses_text(masses))
    for k, (p, level) in enumerate(zip(density.masses, density.levels)):
        _line(fig, aggregate.level_segments(density.density, density.xs, density.ys, float(level)), "encodings",
              name, k == 0, POINTS_COLOR, WIDTHS[k % len(WIDTHS)], "solid",
              _("encodings μ(x): {p} of the points").format(p=_percent(p)))
    return density


def add_aggregate_and_prior(fig: go.Figure, projection, masses=aggregate.MASSES) -> tuple[go.Figure, str]:
    """FIG with both sets of contours (the prior's where the plane has one) and the caption that says what is
    drawn and how the density was estimated."""
    density = add_encodings(fig, projection.coords, masses)
    h = density.bandwidth
    how = _("a Gaussian kernel density of the {n} points, bandwidth {hx} × {hy} by Scott's rule").format(
        n=f"{len(projection.coords):,}", hx=f"{h[0]:.2g}", hy=f"{h[1]:.2g}")
    if add_prior(fig, projection, masses):
        return fig, _("Aggregate posterior against the prior: the regions holding {masses} of the mass, solid black "
                      "for the encodings μ(x) ({how}), dashed grey for the prior q(z) = N(0, I) mapped exactly into "
                      "this plane. Where the prior has mass and the encodings none, the decoder was never trained: "
                      "turn on the decoded grid to see what it makes there.").format(
            masses=_masses_text(masses), how=how)
    return fig, _("Density of the encodings: the regions holding {masses} of the points ({how}). {method} is no map "
                  "of z, so the prior N(0, I) has no image in this plane and is not drawn; choose PCA or two latent "
                  "dims to compare them.").format(masses=_masses_text(masses), how=how,
                                                  method={"tsne": "t-SNE", "umap": "UMAP"}.get(projection.method,
                                                                                                projection.method))

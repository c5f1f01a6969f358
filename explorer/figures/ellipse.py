"""The visitor's own input's posterior p(z|x) = N(mu, diag sigma^2) (E3) drawn in a plane of the latent map.

A Gaussian through an affine map stays a Gaussian: for plane = A z + b, the point mu goes to c = A mu + b
and the covariance to S = A diag(sigma^2) A^T (2 x 2). Its n-sigma ellipse is the set of points p with
(p - c)^T S^-1 (p - c) = n^2; from the eigen-decomposition S = V diag(lambda) V^T, the points
c + n V diag(sqrt(lambda)) (cos t, sin t). The 2-sigma ellipse holds 1 - e^-2 = 86.5 % of the mass.

Raw dims: A selects z_i and z_j (the marginal of the pad's two dimensions, exact for a diagonal Gaussian; an
axis-aligned ellipse with half-axes 2 sigma_i and 2 sigma_j). PCA: coords = (z - mean) @ components.T, so
A = components and b = -components @ mean. t-SNE and UMAP have no map from z to the plane: nothing drawn.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explorer.i18n import _

N_SIGMA = 2.0
ELLIPSE_COLOR = "#111111"


def affine_map(projection) -> tuple[np.ndarray, np.ndarray] | None:
    """(A, b), A (2, Z) and b (2,), with a point's plane coordinates = A z + b; None where the projection is
    no affine map of z (t-SNE, UMAP)."""
    z_dim = projection.z_dim
    if projection.linear:
        a = np.asarray(projection.components, dtype=np.float64).reshape(2, z_dim)
        return a, -a @ np.asarray(projection.mean, dtype=np.float64)
    if projection.method == "dims":
        a = np.zeros((2, z_dim))
        a[0, projection.dims[0]] = a[1, projection.dims[1]] = 1.0
        return a, np.zeros(2)
    return None


def ellipse_points(center, cov, n_sigma: float = N_SIGMA, n: int = 121) -> np.ndarray:
    """(n, 2) points of the n_sigma ellipse of N(center, cov) in the plane, closed (the last is the first)."""
    lam, v = np.linalg.eigh(np.asarray(cov, dtype=np.float64).reshape(2, 2))
    t = np.linspace(0.0, 2 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, n)
    points = np.asarray(center, np.float64).reshape(2, 1) + n_sigma * v @ (np.sqrt(np.clip(lam, 0, None))[:, None] * circle)
    points[:, -1] = points[:, 0]  # exactly closed
    return points.T


def projected_ellipse(mu, sigma, a: np.ndarray, b: np.ndarray, n_sigma: float = N_SIGMA,
                      n: int = 121) -> tuple[np.ndarray, np.ndarray]:
    """Centre (2,) and (n, 2) ellipse points of N(mu, diag sigma^2) mapped by z -> A z + b."""
    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    center = a @ mu + b
    cov = (a * sigma**2) @ a.T  # A diag(sigma^2) A^T
    return center, ellipse_points(center, cov, n_sigma, n)


def add_posterior(fig: go.Figure, posterior: dict, projection, method: str) -> tuple[go.Figure, str]:
    """FIG with the posterior's 2-sigma ellipse and its centre mu (named in the legend, the source on hover), and
    one caption line that says what is drawn; where the projection (named METHOD) has no map from z, FIG as it
    was and the line says why."""
    found = affine_map(projection)
    if found is None:
        return fig, _("{method} has no map from z to the plane, so your image's posterior ({source}) is not drawn "
                      "here; choose PCA or two latent dims.").format(method=method, source=posterior["source"])
    center, points = projected_ellipse(posterior["mu"], posterior["sigma"], *found)
    name = _("your image: μ ± 2σ")
    source = str(posterior["source"]).replace("<", "&lt;")
    fig.add_trace(go.Scattergl(
        x=points[:, 0], y=points[:, 1], mode="lines", name=name, legendgroup="your_input",
        line={"color": ELLIPSE_COLOR, "width": 2.5, "dash": "dash"},
        hovertemplate=f"{name}<br>{source}<extra></extra>",
    ))
    fig.add_trace(go.Scattergl(
        x=[center[0]], y=[center[1]], mode="markers", name=_("your image: μ"), legendgroup="your_input",
        showlegend=False, marker={"symbol": "x", "size": 13, "color": ELLIPSE_COLOR,
                                  "line": {"width": 1, "color": "#ffffff"}},
        hovertemplate=_("your image: μ") + f"<br>{source}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
    ))
    return fig, _("Dashed: your image's posterior p(z|x) ({source}) at μ ± 2σ, which holds 86% of its mass, mapped "
                  "exactly into this plane; ✕ marks μ.").format(source=posterior["source"])

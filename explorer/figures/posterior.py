"""The figures of the Your image page: what the encoder makes of one input x.

- ``posterior_chart``: the posterior p(z|x) = N(mu(x), sigma^2(x)) (E3) per dimension as mu_k +- 2 sigma_k, against
  the prior q(z) = N(0, 1)'s +-2 band (E2), dimensions in the sliders' KL order, unused ones grey; under it KL_k of
  this x (E4).
- ``posterior_map``: on a 2-D model, the test images' mu(x) and this posterior's 2-sigma ellipse.
- ``sample_strip``, ``preview``: the K decodes of z = mu + sigma * eps (E7) in a row; an input of any size, small.

Functions of arrays, in the visitor's language; nothing here touches Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from explorer.figures import images
from explorer.figures.charts import ACTIVE_COLOR, INACTIVE_COLOR, latent_scatter
from explorer.i18n import _

TWO_SIGMA = 2.0
PRIOR_BAND = "rgba(120,120,120,0.16)"
INPUT_COLOR = "#d62728"  # the visitor's input on the map, red among the test images' colours


def posterior_chart(mu: np.ndarray, sigma: np.ndarray, kl_per_dim: np.ndarray, order: Sequence[int],
                    active: np.ndarray, titles: Sequence[str], height: int = 420) -> go.Figure:
    """mu_k +- 2 sigma_k of this x for the dimensions in ORDER (the sliders' KL order), the prior's +-2 band behind
    them; below, KL_k of this x in nats. ACTIVE (Z,) marks the dimensions the model uses (over its test images);
    TITLES (Z,) names each dimension ("z_3" or "z_3 (x position)")."""
    mu, sigma, kl = (np.asarray(a, dtype=float) for a in (mu, sigma, kl_per_dim))
    order = [int(k) for k in order]
    active = np.asarray(active, dtype=bool)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    names = [titles[k] for k in order]
    fig.add_hrect(y0=-TWO_SIGMA, y1=TWO_SIGMA, fillcolor=PRIOR_BAND, line_width=0, layer="below", row=1, col=1,
                  exclude_empty_subplots=False)
    fig.add_trace(go.Scatter(  # the band's entry in the legend (a shape has none)
        x=[names[0]], y=[None], mode="markers", marker={"symbol": "square", "size": 14, "color": PRIOR_BAND},
        name=_("prior q(z) = N(0, 1): ±2"), legendrank=3, hoverinfo="skip"), row=1, col=1)
    hover = (_("{dim}: μ = {mu}, σ = {sigma}, KL of this x {kl} nats").format(
        dim="%{x}", mu="%{y:.2f}", sigma="%{customdata[0]:.3f}", kl="%{customdata[1]:.3f}") + "<extra></extra>")
    for used, name, color in ((True, _("μ_k ± 2σ_k of this x"), ACTIVE_COLOR),
                              (False, _("unused by the model: KL < 0.01"), INACTIVE_COLOR)):
        ks = [k for k in order if active[k] == used]
        if not ks:
            continue
        fig.add_trace(go.Scatter(
            x=[titles[k] for k in ks], y=mu[ks], mode="markers", name=name, legendrank=1 if used else 2,
            marker={"color": color, "size": 9, "symbol": "circle" if used else "circle-open"},
            error_y={"type": "data", "array": TWO_SIGMA * sigma[ks], "color": color, "thickness": 2, "width": 5},
            customdata=np.stack([sigma[ks], kl[ks]], axis=1), hovertemplate=hover), row=1, col=1)
        fig.add_trace(go.Bar(
            x=[titles[k] for k in ks], y=kl[ks], marker={"color": color}, showlegend=False,
            hovertemplate="%{x}: " + _("{kl} nats").format(kl="%{y:.3f}") + "<extra></extra>"), row=2, col=1)
    fig.update_xaxes(categoryorder="array", categoryarray=names)
    reach = max(TWO_SIGMA, float(np.max(np.abs(mu) + TWO_SIGMA * sigma))) + 0.3  # every bar whole, the band too
    fig.update_yaxes(title_text="z_k", zeroline=True, range=[-reach, reach], row=1, col=1)
    fig.update_yaxes(title_text=_("KL_k (nats)"), rangemode="tozero", row=2, col=1)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, barmode="overlay",
                      legend={"orientation": "h", "y": 1.08, "x": 0}, hovermode="closest")
    return fig


def ellipse(mu: np.ndarray, sigma: np.ndarray, n: int = 96, scale: float = TWO_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """The closed curve mu + scale * sigma * (cos t, sin t) of a 2-D diagonal Gaussian: its x and y."""
    t = np.linspace(0.0, 2.0 * np.pi, n)
    return mu[0] + scale * sigma[0] * np.cos(t), mu[1] + scale * sigma[1] * np.sin(t)


def posterior_map(test_mu: np.ndarray, labels: np.ndarray | None, label_names: Sequence[str] | None,
                  mu: np.ndarray, sigma: np.ndarray, titles: tuple[str, str] = ("z_0", "z_1"),
                  height: int = 420) -> go.Figure:
    """A 2-D model's test encodings mu(x) (one colour per class) with this input's mu and 2-sigma ellipse."""
    test_mu = np.asarray(test_mu, dtype=float)
    fig = latent_scatter(test_mu, np.arange(len(test_mu)), labels=labels, label_names=label_names,
                         axis_titles=titles, marker_size=4, height=height)
    fig.update_traces(marker={"opacity": 0.45})
    mu, sigma = np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float)
    ex, ey = ellipse(mu, sigma)
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", name=_("your image: μ ± 2σ"), hoverinfo="skip",
                             line={"color": INPUT_COLOR, "width": 3}))
    fig.add_trace(go.Scatter(
        x=[mu[0]], y=[mu[1]], mode="markers", name=_("your image: μ"),
        marker={"color": INPUT_COLOR, "size": 14, "symbol": "x", "line": {"width": 1, "color": "white"}},
        hovertemplate="μ(x) = ({x}, {y}), σ = ({sx}, {sy})".format(
            x=f"{mu[0]:.2f}", y=f"{mu[1]:.2f}", sx=f"{sigma[0]:.3f}", sy=f"{sigma[1]:.3f}") + "<extra></extra>"))
    fig.update_layout(clickmode="none", dragmode="pan")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)  # a circle stays a circle
    return fig


def sample_strip(samples: np.ndarray, width: int) -> np.ndarray:
    """The K decodes (K, H, W, C) side by side, a grey line between them, upscaled to about WIDTH pixels."""
    strip = images.image_grid(np.asarray(samples), ncols=len(samples), pad=1)
    return images.display(strip, width)


def preview(image: np.ndarray, side: int) -> np.ndarray:
    """An input image (H, W, C) in [0, 1] of any size as uint8 at most SIDE pixels on its longer side: a large photo
    shrunk smoothly (a small one is enlarged by whole pixels, so its pixels stay visible)."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    if max(h, w) <= side:
        return images.display(image, side * w // max(h, w))
    pil = images.pil_image(image)
    scale = side / max(h, w)
    return np.asarray(pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS))

"""map_thumbs: the test image under the pointer, shown beside it while it hovers a dot of the latent map.

Plotly's hover label can hold text only, and a round trip to the server per hovered dot would lag. So
the browser gets every test image once, as one PNG atlas (tiles in rows of ``cols``, row-major by test
index), and a components v2 component draws the hovered dot's tile from it. It listens to the latent
map's own ``plotly_hover`` / ``plotly_unhover`` events (Plotly's public event API on the chart's
element, found by the chart's Streamlit key); every dot's ``customdata`` is its test index
(explorer/figures/charts.py).

Costs are checked before they are paid: the atlas's raw size is N * side^2 * C bytes, and the tile side
is chosen from that budget (``ATLAS_MAX_BYTES``) before any image is resized or encoded; 10,000 MNIST
digits stay at 28 px (7.8 MB raw, about 2 MB of PNG), 10,000 CIFAR-10 images go to 23 px. The atlas
travels only while the browser lacks it (the component's ``has`` state names the atlas it holds), as
the latent pad does with its weights.

While the thumbnail shows a dot, Plotly's own hover label would sit on top of it: ``quiet_hover`` turns it off
for the dots that have a thumbnail (``hoverinfo="none"`` still fires the hover events this listens to), and
the thumbnail's caption carries what the label said (the test index and its class, ``captions``). Traces
without thumbnails (the manifold overlay, the prior contours) keep their own hover labels.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from PIL import Image

FRONTEND = Path(__file__).resolve().parent  # its front end lies beside it
ATLAS_MAX_BYTES = 16_000_000  # raw pixels of one atlas
SCALE_PX = 96                 # the hovered image is shown about this wide

_component = st.components.v2.component(
    "map_thumbs",
    html=(FRONTEND / "thumbs.html").read_text(encoding="utf-8"),
    css=(FRONTEND / "thumbs.css").read_text(encoding="utf-8"),
    js=(FRONTEND / "thumbs.js").read_text(encoding="utf-8"),
)


def tile_side(n: int, image_shape: tuple[int, int, int], max_bytes: int = ATLAS_MAX_BYTES) -> int:
    """The side of one tile: the images' own height, or less so that N tiles fit MAX_BYTES."""
    c, h, w = image_shape
    fits = math.isqrt(max(1, max_bytes // max(1, n * c)))
    return max(4, min(max(h, w), fits))


def atlas(x: torch.Tensor, side: int) -> tuple[bytes, int]:
    """The images X (N, C, H, W) in [0, 1] as one PNG of SIDE-pixel tiles; and its number of columns."""
    n, c = x.shape[0], x.shape[1]
    if x.shape[-2:] != (side, side):
        x = torch.nn.functional.interpolate(x.float(), size=(side, side), mode="area")
    tiles = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (N, s, s, C)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    sheet = np.zeros((rows * cols, side, side, c), np.uint8)
    sheet[:n] = tiles
    sheet = sheet.reshape(rows, cols, side, side, c).transpose(0, 2, 1, 3, 4).reshape(rows * side, cols * side, c)
    buffer = io.BytesIO()
    Image.fromarray(sheet[..., 0] if c == 1 else sheet).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue(), cols


@st.cache_resource(max_entries=4, show_spinner=False)  # read-only: one string per test set, not per visitor
def _atlas_data(atlas_id: str, _x: torch.Tensor) -> dict:
    side = tile_side(_x.shape[0], tuple(_x.shape[1:]))
    png, cols = atlas(_x, side)
    return {"url": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "cols": cols, "side": side,
            "n": int(_x.shape[0])}


def quiet_hover(fig, n: int):
    """FIG with Plotly's hover label off on the dots whose customdata is a test index below N (their thumbnail
    shows instead); every other trace keeps its label."""
    for trace in fig.data:
        data = getattr(trace, "customdata", None)
        first = None if data is None or not len(data) else np.asarray(data).reshape(len(data), -1)[:, 0]
        if first is not None and np.issubdtype(first.dtype, np.number) and ((first >= 0) & (first < n)).all():
            trace.hovertemplate = None
            trace.hoverinfo = "none"
    return fig


def thumbnails(x_test: torch.Tensor, atlas_id: str, chart_key: str, key: str = "map_thumbs",
               captions: list[str] | None = None) -> None:
    """Hover thumbnails for the chart with Streamlit key CHART_KEY, whose dots' customdata index X_TEST;
    CAPTIONS (one per test image, optional) is written under each thumbnail after its index."""
    state = st.session_state.get(key)
    holds = state.get("has") if hasattr(state, "get") else None
    sheet = _atlas_data(atlas_id, x_test)
    _component(
        key=key,
        data={"atlas_id": atlas_id, "atlas": None if holds == atlas_id else sheet["url"], "cols": sheet["cols"],
              "side": sheet["side"], "n": sheet["n"], "chart": chart_key, "width": SCALE_PX, "captions": captions},
        default={"has": None},
        on_has_change=lambda: None,  # a new "has" reruns: the next render knows it need not send the atlas
    )

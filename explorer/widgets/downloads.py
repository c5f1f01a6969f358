"""Save what the app shows: every image as a PNG at a chosen scale, every chart as PNG or SVG.

The scale and the chart format are the visitor's choice (the sidebar's "Share this view" box) and apply
to every page. Images are written from the arrays the page drew, pixel for pixel (each pixel repeated
scale x scale times: digits stay crisp); charts use Plotly's own export (the camera button of a chart).
"""

from __future__ import annotations

import streamlit as st

from explorer.figures import images
from explorer.i18n import _

SCALES = (1, 2, 4, 8, 16)
SCALE_KEY, FORMAT_KEY = "download_scale", "chart_format"
CHART_FORMATS = ("png", "svg")


def scale() -> int:
    value = st.session_state.get(SCALE_KEY, 4)
    return value if value in SCALES else 4


def image_button(img, name: str, key: str) -> None:
    """A download button for IMG (float or uint8, (H, W[, C])) as NAME-xS.png at the chosen scale."""
    s = scale()
    st.download_button(_("PNG ×{scale}").format(scale=s), data=lambda: images.png_bytes(img, s),
                       file_name=f"{name}-x{s}.png", mime="image/png", on_click="ignore",
                       icon=":material/download:", key=f"png_{key}")


def chart_config(name: str) -> dict:
    """``st.plotly_chart(config=...)``: the camera button saves NAME as PNG or SVG at the chosen scale."""
    fmt = st.session_state.get(FORMAT_KEY, "png")
    return {"toImageButtonOptions": {"format": fmt if fmt in CHART_FORMATS else "png", "filename": name,
                                     "scale": scale()}, "displaylogo": False}


def settings() -> None:
    """The choices, in the sidebar's share box."""
    left, right = st.columns(2)
    left.selectbox(_("Image scale"), SCALES, index=SCALES.index(4), key=SCALE_KEY,
                   help=_("Downloaded images repeat every pixel this many times in each direction."))
    right.selectbox(_("Chart format"), CHART_FORMATS, key=FORMAT_KEY, format_func=str.upper,
                    help=_("What a chart's camera button saves."))

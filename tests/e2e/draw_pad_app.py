"""A tiny app around the draw_pad component for its browser test (tests/e2e/test_draw_pad.py): it shows what
Python received, the stroke count and the PNG's mean ink, as text a test can wait for. With ``?live=1`` the
canvas gets the bundled 16-D model (explorer/demos/mnist5k-z16) and shows its reconstruction while drawing."""

import io

import numpy as np
import streamlit as st
from PIL import Image

from explorer import DEMOS
from explorer.widgets.draw_pad import browser_model, clear, draw_pad  # the test's server puts the repository on PYTHONPATH

LIVE_MODEL = "mnist5k-z16-harness"

st.title("draw_pad")
st.button("Clear from Python", on_click=clear, args=("draw",))
hidden = st.checkbox("Hide the canvas")
model = browser_model(str(DEMOS / "mnist5k-z16"), LIVE_MODEL) if st.query_params.get("live") == "1" else None
drawing = None if hidden else draw_pad(key="draw", model=model)
with st.container(key="drawn"):
    if hidden:
        st.text("hidden")
    elif drawing is None:
        st.text("empty")
    else:
        grey = np.asarray(Image.open(io.BytesIO(drawing.png)).convert("L"), dtype=np.float64) / 255.0
        st.text(f"strokes={drawing.strokes} ink={1.0 - grey.mean():.4f} size={grey.shape[1]}x{grey.shape[0]} "
                f"version={drawing.version}")

"""A tiny app around the draw_pad component for its browser test (tests/e2e/test_draw_pad.py): it shows what
Python received, the stroke count and the PNG's mean ink, as text a test can wait for."""

import io

import numpy as np
import streamlit as st
from PIL import Image

from explorer.widgets.draw_pad import clear, draw_pad  # the test's server puts the repository on PYTHONPATH

st.title("draw_pad")
st.button("Clear from Python", on_click=clear, args=("draw",))
hidden = st.checkbox("Hide the canvas")
drawing = None if hidden else draw_pad(key="draw")
with st.container(key="drawn"):
    if hidden:
        st.text("hidden")
    elif drawing is None:
        st.text("empty")
    else:
        grey = np.asarray(Image.open(io.BytesIO(drawing.png)).convert("L"), dtype=np.float64) / 255.0
        st.text(f"strokes={drawing.strokes} ink={1.0 - grey.mean():.4f} size={grey.shape[1]}x{grey.shape[0]} "
                f"version={drawing.version}")

"""A tiny app around the draw_pad component for its browser test (tests/e2e/test_draw_pad.py): it shows what
Python received, the stroke count and the PNG's mean ink, as text a test can wait for."""

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `streamlit run` adds only ours

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402
from PIL import Image  # noqa: E402

from explorer.widgets.draw_pad import clear, draw_pad  # noqa: E402

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

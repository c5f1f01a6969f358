"""The baseline for benchmarks/latency.py: one slider and one image, nothing else."""

import numpy as np
import streamlit as st

value = st.slider("z_0", -4.0, 4.0, 0.0, step=0.05, key="z_0")
ramp = np.linspace(0.0, 1.0, 28 * 28, dtype=np.float32).reshape(28, 28)
image = (np.clip(ramp + value / 8.0, 0.0, 1.0) * 255).astype(np.uint8).repeat(10, 0).repeat(10, 1)
with st.container(key="decoded"):
    st.image(image, width=280)

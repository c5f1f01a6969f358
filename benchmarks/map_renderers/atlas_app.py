"""embedding-atlas's own Streamlit component (run with the separate venv that has embedding-atlas installed)."""

import pandas as pd
import streamlit as st
from embedding_atlas.streamlit import embedding_atlas

from points import points


@st.cache_data
def frame() -> pd.DataFrame:
    xy, c = points()
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": c.astype(str)})


embedding_atlas(frame(), x="x", y="y", key="map")

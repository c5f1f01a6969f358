"""regl-scatterplot in a components v2 widget: the app's vendored library (explorer/widgets/map_canvas) and
regl_entry.js inline, the
points as an Arrow table (float32 x, y; int8 class), which components v2 sends as binary, not JSON."""

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from points import PALETTE, points

HERE = Path(__file__).resolve().parent
component = st.components.v2.component(
    "regl_map", html='<canvas style="width:100%;height:600px;display:block"></canvas>',
    js=(HERE.parents[1] / "explorer" / "widgets" / "map_canvas" / "regl_scatterplot.js").read_text(encoding="utf-8")
    + "\n" + (HERE / "regl_entry.js").read_text(encoding="utf-8"))


@st.cache_data
def frame() -> pd.DataFrame:
    xy, c = points()
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "c": c})


# REGL_OPTIONS: createScatterplot options as JSON (the benchmark's regl-perf: {"performanceMode": true})
component(data={"points": frame(), "colors": PALETTE, "options": json.loads(os.environ.get("REGL_OPTIONS", "{}"))},
          key="map")

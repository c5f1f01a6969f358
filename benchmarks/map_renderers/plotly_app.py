"""Plotly Scattergl as the Latent map draws it today: explorer.figures.charts.latent_scatter, one trace per
class, the test-set index as customdata, pan by drag, zoom by wheel (the page's config)."""

import numpy as np
import streamlit as st

from points import points
from explorer.figures.charts import latent_scatter

xy, c = points()
fig = latent_scatter(xy, np.arange(len(xy)), labels=c, label_names=[str(k) for k in range(10)], height=600)
st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="map", config={"scrollZoom": True})

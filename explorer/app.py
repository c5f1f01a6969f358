"""VAE explorer: ``streamlit run explorer/app.py``.

One page per job; the model chosen in the sidebar is shared by every page.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run explorer/app.py` puts explorer/ on the path, not the root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from explorer import state  # noqa: E402

PAGES = Path(__file__).resolve().parent / "pages"


def model_picker() -> None:
    """Sidebar: which model every page shows."""
    runs = state.available_runs()
    paths = [str(r.path) for r in runs]
    current = str(state.current_run_path())
    if current not in paths:
        paths.insert(0, current)
    labels = {str(r.path): r.label for r in runs}
    chosen = st.sidebar.selectbox(
        "Model", paths, index=paths.index(current), format_func=lambda p: labels.get(p, Path(p).name),
        key="model_picker",
    )
    if chosen != current:
        state.select_run(chosen)


def main() -> None:
    st.set_page_config(page_title="VAE explorer", page_icon=":material/blur_on:", layout="wide")
    pages = [
        st.Page(PAGES / "sliders.py", title="Latent sliders", icon=":material/tune:", default=True),
        st.Page(PAGES / "latent_map.py", title="Latent map", icon=":material/scatter_plot:"),
        st.Page(PAGES / "balance.py", title="Balance", icon=":material/balance:"),
        st.Page(PAGES / "interpolate.py", title="Interpolate", icon=":material/linear_scale:"),
        st.Page(PAGES / "samples.py", title="Samples", icon=":material/grid_view:"),
        st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(PAGES / "models.py", title="Models", icon=":material/folder_open:"),
        st.Page(PAGES / "theory.py", title="Theory", icon=":material/functions:"),
    ]
    page = st.navigation(pages)
    model_picker()
    page.run()


main()

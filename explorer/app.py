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

from explorer import i18n  # noqa: E402
from explorer.i18n import N_, _  # noqa: E402
from explorer.state import latent_point, serving, shared, view_link  # noqa: E402
from explorer.widgets import compare, copy_link, model_words  # noqa: E402
from training.core.errors import UserError  # noqa: E402
from training.models.open import ONNX, model_kind  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"  # not "pages/": that name switches on the old multipage mode
# The tab's icon: a decoded digit, served by the app itself. A ":material/...:" page icon is fetched by the
# browser from fonts.gstatic.com (it fails offline and tells that host the app was opened); an emoji one
# from a CDN too. The icons of the pages and buttons come from the Material Symbols font Streamlit serves.
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
# The model picker's options are short (a name fitted to the sidebar and a tag, explorer/widgets/model_words.py),
# its whole description the line under it. A dropdown's rows are one line high: an option longer than its row ends
# in "…" on that line (wrapped, its second line was cut off), and so does the closed box. A button's label wraps
# instead of ending in "..." in a narrow column.
STYLE = """<style>
[role="listbox"] [role="option"] > div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[data-baseweb="select"] input { text-overflow: ellipsis; }
[data-testid="stBaseButton-secondary"] p, [data-testid="stBaseButton-primary"] p { white-space: normal; }
</style>"""


def model_picker() -> None:
    """Sidebar: which model every page shows."""
    runs = shared.available_runs()
    labels = {shared.canonical(r.path): model_words.short_label(r) for r in runs}  # every run once, in one spelling
    paths = list(labels)
    current = shared.canonical(shared.current_run_path())
    if current not in labels:
        paths.insert(0, current)
    st.session_state["model_picker"] = current  # follow a model chosen on a page (shared.select_run) since the last run
    details = {shared.canonical(r.path): model_words.details(r) for r in runs}
    st.sidebar.selectbox(
        _("Model"), paths, format_func=lambda p: labels.get(p, Path(p).name), key="model_picker",
        on_change=lambda: shared.select_run(st.session_state["model_picker"]),
        help=details.get(current, Path(current).name),
    )
    with st.sidebar.container(key="model_details"):  # the option is short: the whole of it, in words
        st.caption(details.get(current, Path(current).name))
        if model_kind(current) == ONNX:  # how its graphs were read, when not as the library writes them
            try:
                note = model_words.graph_note(shared.current_run().roles)
            except UserError:  # the page says what is wrong with it
                note = None
            if note:
                st.caption(note)


def main() -> None:
    if serving.served():  # served to others: a traceback (server paths, code) never reaches a visitor, nor a path
        st.set_option("client.showErrorDetails", "none")
    i18n.show_paths_with(serving.public_text if serving.served() else None)
    st.set_page_config(page_title=_("VAE explorer"), page_icon=str(ICON), layout="wide")
    st.html(STYLE)
    pages = [
        st.Page(VIEWS / "sliders.py", title=_("Latent sliders"), icon=":material/tune:", default=True),
        st.Page(VIEWS / "scrub.py", title=_("Real-time sliders"), icon=":material/swipe:"),
        st.Page(VIEWS / "latent_map.py", title=_("Latent map"), icon=":material/scatter_plot:"),
        st.Page(VIEWS / "directions.py", title=_("Directions"), icon=":material/explore:"),
        st.Page(VIEWS / "your_image.py", title=_("Your image"), icon=":material/draw:"),
        st.Page(VIEWS / "balance.py", title=_("Balance"), icon=":material/balance:"),
        st.Page(VIEWS / "interpolate.py", title=_("Interpolate"), icon=":material/linear_scale:"),
        st.Page(VIEWS / "samples.py", title=_("Samples"), icon=":material/grid_view:"),
        st.Page(VIEWS / "train.py", title=_("Train"), icon=":material/model_training:"),
        st.Page(VIEWS / "sweep.py", title=_("Sweep"), icon=":material/stacked_line_chart:"),
        st.Page(VIEWS / "models.py", title=_("Models"), icon=":material/folder_open:"),
        st.Page(VIEWS / "theory.py", title=_("Theory"), icon=":material/functions:"),
    ]
    page = st.navigation(pages)
    view_link.restore(shared.available_runs, shared.select_run, put_z=lambda z: latent_point.put(
        str(shared.current_run_path()), z, N_("the link.")), z_dim_of=lambda: shared.current_config_and_history()[
        0].model.latent_dim)
    i18n.switch()
    model_picker()
    compare.picker()
    view_link.write(model=shared.current_run_path().name, lang=i18n.current())
    view_link.show_problems(page.url_path)
    page.run()
    copy_link.share_box()  # after the page: the link holds what the page wrote


main()

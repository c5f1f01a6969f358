"""copy_link: the sidebar's "Share this view" box, the live address of this view and a Copy button.

The link itself is explorer/state/view_link.py's; this widget only shows it. Its front end is three
hand-written files in this folder (copy.html, copy.css, copy.js), registered inline as a Streamlit
components v2 component. The box also holds the download settings (explorer/widgets/downloads.py).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.i18n import _
from explorer.widgets import downloads

FRONTEND = Path(__file__).resolve().parent  # its front end lies beside it
_copy_link = st.components.v2.component(
    "copy_link", html=(FRONTEND / "copy.html").read_text(encoding="utf-8"),
    css=(FRONTEND / "copy.css").read_text(encoding="utf-8"), js=(FRONTEND / "copy.js").read_text(encoding="utf-8"))


def share_box() -> None:
    """The sidebar's "copy link" control: the live address of this view and a Copy button. It reads the
    browser's address bar, which every move keeps up to date, even moves that rerun only a fragment."""
    with st.sidebar.expander(_("Share this view"), icon=":material/link:"):
        st.caption(_("This link opens the same page, model and z (and the page's choices) in any browser."))
        with st.container(key="share_link"):
            _copy_link(key="copy_link", data={"copy": _("Copy link"), "copied": _("Copied")})
        downloads.settings()

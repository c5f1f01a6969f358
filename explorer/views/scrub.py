"""Real-time sliders: the latent_pad component decodes in the browser while a slider is dragged.

Every architecture the library trains (MLP and conv decoders: their weights go to the browser once
per model); only a decoder too large to send falls back to the server-side Latent sliders page. The
component starts from the current latent point and, on release, z comes back and becomes it
(explorer/state/latent_point.py), so both slider pages show the same z.

With a direction d chosen for the model (the Directions page, or the link's ``dir=``; explorer/state/direction.py)
one more slider moves along it: the browser decodes z + t d while t or any slider is dragged, and on release z (the
sliders' point, without t d) becomes the latent point and t the session's t (``t=`` in the link). The direction is
resolved (torch, the test encodings) only when there is one: without it the page stays light.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from explorer.i18n import N_, _, error_text
from explorer.state import dim_names, direction, latent_point, shared, your_input
from explorer.widgets.latent_pad import MAX_BROWSER_PARAMS, fits_in_browser, latent_pad, released_t, released_z
from training.models.open import ADAPTER, ONNX, model_kind
from training.vae import latent_space

KEY = "latent_pad"
DIRECTIONS_PAGE = "views/directions.py"


def _on_release(path: str, z_dim: int, model_id: str) -> None:
    z = released_z(KEY, z_dim, model_id)
    if z is not None:  # not a malformed value, nor a release of the sliders of a model no longer shown
        st.session_state["scrub_last"] = latent_point.put(path, z, N_("the real-time sliders."))
    t = released_t(KEY, model_id)
    if t is not None:  # the release of a move along a direction; a malformed t is ignored like a malformed z
        direction.write_t(t)


def chosen_direction(path: str):
    """The vector and name of the session's direction for this model (resolved only if there is one: that loads
    torch and the test encodings), or None; says why a chosen one cannot be used, or where to choose one."""
    if direction.get(path) is None and not direction.link_pending():
        st.page_link(DIRECTIONS_PAGE, label=_("Choose a direction on the Directions page"), icon=":material/explore:")
        return None
    from explorer.widgets.directions import chosen

    found = chosen(shared.current_run(), page="scrub")
    if found is None:  # the link's direction could not be used (the page says why)
        st.page_link(DIRECTIONS_PAGE, label=_("Choose a direction on the Directions page"), icon=":material/explore:")
        return None
    if found.found is None:
        st.error(error_text(found.error), icon=":material/error:")
        return None
    return {"vector": [float(v) for v in found.vector], "name": found.name}


@st.fragment
def pad_panel(decoder, path: str, model_id: str, order: np.ndarray, kl: np.ndarray, active: np.ndarray,
              names: list[str | None], along: dict | None = None) -> None:
    """A release reruns only this fragment (the component sends nothing while dragging). ALONG: the direction
    (vector, name) to move along, or None; its t is the session's."""
    z_dim = decoder.latent_dim
    labels = [latent_point.label(i, kl[i], active[i], names[i]) for i in range(z_dim)]
    latent_pad(decoder, latent_point.get(path, z_dim), order, labels, key=KEY, model_id=model_id, active=active,
               on_release=lambda: _on_release(path, z_dim, model_id), posterior=your_input.get(path, z_dim),
               along=None if along is None else {**along, "t": direction.t()})
    last = st.session_state.get("scrub_last")
    with st.container(key="scrub_value"):
        if last is None:
            st.caption(_("Last release: none yet. Drag a slider or the pad; z comes back here when you let go."))
        else:
            st.caption(_("Last release: z = [{z}]").format(z=", ".join(f"{v:.2f}" for v in last)))


def main() -> None:
    config, history = shared.current_config_and_history()
    z_dim = config.model.latent_dim
    kl, active, order = latent_space.ranked_dims(history, z_dim)
    path = shared.current_run_path()

    st.title(_("Real-time sliders"))
    st.caption(_("The decoder runs in your browser: the image follows the slider while you drag, with no round trip "
                 "to the server; z is sent back when you let go and shared with Latent sliders."))
    decoder = shared.current_decoder()
    if decoder is None or not fits_in_browser(decoder):
        why = (_("its ONNX decoder uses operations the in-browser decoder does not compute (it runs dense layers, "
                 "transposed convolutions of kernel 4 and stride 2, ReLU and a final Sigmoid)")
               if model_kind(path) == ONNX else
               _("its decoder is your own Python code, which only the server runs") if model_kind(path) == ADAPTER else
               _("its weights cannot be read") if decoder is None else
               _("its decoder has {n} parameters, more than the {limit} sent to a browser").format(
                   n=f"{decoder.parameter_count:,}", limit=f"{MAX_BROWSER_PARAMS:,}"))
        st.info(_("This model cannot be decoded in the browser: {why}. Use the Latent sliders page, which decodes on "
                  "the server.").format(why=why), icon=":material/info:")
        st.page_link("views/sliders.py", label=_("Open Latent sliders"), icon=":material/tune:")
        return
    shared.on_new_model("scrub", lambda: st.session_state.pop("scrub_last", None))  # its last z means nothing here
    # which weights the browser holds: the run's name and a digest, so that the page sends no server path
    model_id = f"{path.name}-" + hashlib.sha256(f"{path}:{shared.weights_digest(path)}".encode()).hexdigest()[:16]
    along = chosen_direction(str(path))
    pad_panel(decoder, str(path), model_id, order, kl, active, dim_names.of_history(history, z_dim), along)


main()

"""Directions: meaning as directions in z (issue 27). A direction from one group of test images to another, how
well it separates them; analogies ("this 1, written as a 7"); the principal directions of the encodings as sliders.

The direction d = mean mu(B) - mean mu(A) over the test encodings (E3) is kept for the session
(explorer/state/direction.py, ``dir=`` in the link); Latent sliders and Real-time sliders move along it, the
Latent map can take it as its x axis. An analogy takes an image's mu(x), subtracts its group's mean and adds the
other group's: mu(x) - mean mu(A) + mean mu(B) = mu(x) + d, and decodes the steps mu(x) + s d, s from 0 to 1.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.figures import images
from explorer.i18n import N_, _
from explorer.state import direction, latent_point, shared, view_link, your_input
from explorer.widgets import directions, downloads
from explorer.widgets.directions import picker
from training.analysis import latent
from training.analysis.directions import along
from training.core.errors import UserError

PAGE = picker.PAGE_KEY  # its URL path and its form's key
TEST, YOURS = "test", "yours"
ALL, SELECTION = "all", "selection"
STRIP_PX = 72


def _open_in_sliders(path: str, z, message: str, **values) -> None:
    latent_point.put(path, z, message, **values)
    direction.write_t(0.0)
    st.switch_page("views/sliders.py")


def direction_panel(run, mu, groups, data) -> directions.Chosen | None:
    path = str(run.path)
    st.subheader(_("A direction from two groups"))
    st.caption(_("Choose two groups of test images; the direction is the difference of their mean encodings, "
                 "d = mean μ(B) − mean μ(A), μ the encoder's mean (E3, on the Theory page). Every page that moves "
                 "along a direction uses this one."))
    picker.form(path, PAGE, data, groups)
    chosen = directions.chosen(run)
    if chosen is None:
        return None
    picker.show(chosen, mu, groups, PAGE)
    c1, c2, c3 = st.columns(3)
    if chosen.found is not None:
        if c1.button(_("Move along it in Latent sliders"), icon=":material/tune:", width="stretch",
                     help=_("Start at group A's mean code: t = 1 is group B's mean.")):
            start = np.asarray(mu, np.float64)[groups.read(chosen.source)].mean(axis=0)
            _open_in_sliders(path, start, N_("the mean code of group A ({group})."), group=chosen.source_title)
        if c2.button(_("Make it the Latent map's x axis"), icon=":material/scatter_plot:", width="stretch"):
            view_link.ask("proj", "axis")  # the map's own defaults for a model read it too
            st.session_state["map_method"] = "axis"
            st.switch_page("views/latent_map.py")
    c3.button(_("Forget this direction"), icon=":material/close:", width="stretch", on_click=direction.clear,
              args=(path,))
    return chosen


def analogy_panel(run, chosen: directions.Chosen, mu, groups, data, x_test) -> None:
    """mu(x) + s d for s from 0 to 1, each decoded: the image of group A written as one of group B."""
    path, z_dim = str(run.path), mu.shape[1]
    st.subheader(_("Analogy"))
    st.caption(_("Take an image, subtract its group's mean code and add the other group's: μ(x) − mean μ(A) + mean "
                 "μ(B) = μ(x) + d. The steps μ(x) + s·d, s from 0 to 1, are decoded below."))
    yours = your_input.get(path, z_dim)
    c1, c2, c3 = st.columns([2, 2, 2], vertical_alignment="bottom")
    if yours is not None:
        source = c1.radio(_("Image"), [TEST, YOURS], horizontal=True, key="dir_analogy_source",
                          format_func={TEST: _("a test image"), YOURS: _("your image ({source})").format(
                              source=yours["source"])}.get)
    else:
        source = TEST
        c1.caption(_("An image drawn, uploaded or picked on the Your image page can be written here too."))
    first = int(groups.read(chosen.source)[0])
    if "dir_analogy_index" not in st.session_state or st.session_state.get("dir_analogy_of") != chosen.source:
        st.session_state["dir_analogy_index"], st.session_state["dir_analogy_of"] = first, chosen.source
    steps = c3.slider(_("Steps"), 3, 10, 6, key="dir_analogy_steps")
    if source == TEST:
        index = int(c2.number_input(_("Test image (0 to {last})").format(last=len(mu) - 1), 0, len(mu) - 1,
                                    key="dir_analogy_index"))
        start, original = mu[index], latent.to_hwc(x_test[index:index + 1])[0]
        label = data.test_label(index)
        named = (_("test image {index} (label {label})").format(index=index, label=label) if label is not None else
                 _("test image {index}").format(index=index))
    else:
        start, original, named = yours["mu"], None, yours["source"]
    path_z = along(start, chosen.vector, np.linspace(0.0, 1.0, steps))
    decoded = latent.decode_images(run.model, path_z)
    row = decoded if original is None else np.concatenate([original[None], decoded])
    strip = images.image_grid(row, ncols=len(row), pad=2)
    width = min(1100, len(row) * STRIP_PX)
    with st.container(key="dir_analogy"):
        st.image(images.display(strip, width), width=width)
    said = (_("{image} written as {target}: the image itself, then the decodes of μ(x) + s·d for s = 0 … 1; the "
              "last is μ(x) − mean μ({source}) + mean μ({target}).") if original is not None else
            _("{image} written as {target}: the decodes of μ(x) + s·d for s = 0 … 1; the last is μ(x) − mean "
              "μ({source}) + mean μ({target})."))
    st.caption(said.format(image=named, target=chosen.target_title, source=chosen.source_title))
    d1, d2 = st.columns(2)
    with d1:
        downloads.image_button(strip, "analogy", "dir_analogy_png")
    if d2.button(_("Open the last step in Latent sliders"), icon=":material/tune:", width="stretch",
                 key="dir_analogy_open"):
        _open_in_sliders(path, path_z[-1], N_("{image} written as {target} (an analogy)."), image=named,
                         target=chosen.target_title)


def principal_panel(run, mu) -> None:
    """The principal directions of the encodings as sliders c_j (in standard deviations), from the mean."""
    path = str(run.path)
    st.subheader(_("Principal directions"))
    st.caption(_("The directions in which the encodings vary most (PCA of μ), as sliders of their own: z = mean + "
                 "Σ c_j·sd_j·v_j, c_j in standard deviations of the encodings along v_j. All at 0 is the mean code."))
    selection = picker.test_selection(path, len(mu))
    if selection is not None:
        of = st.radio(_("Encodings"), [ALL, SELECTION], horizontal=True, key="dir_pc_of",
                      format_func={ALL: _("all test images"), SELECTION: _(
                          "the Latent map's selection ({n} images)").format(n=len(selection["indices"]))}.get)
    else:
        of = ALL
        st.caption(_("Of all test images; select points on the Latent map to find the principal directions of "
                     "those alone."))
    try:
        found = directions.principal_of(run, selection["indices"] if of == SELECTION else None)
    except UserError as err:
        from explorer.i18n import error_text

        st.error(error_text(err), icon=":material/error:")
        return
    keys = [f"dir_pc_{j}" for j in range(len(found.sd))]
    if st.session_state.get("dir_pc_made") != (path, of, len(keys)):  # a new model or set: back to the mean
        for key in keys:
            st.session_state[key] = 0.0
        st.session_state["dir_pc_made"] = (path, of, len(keys))
    left, right = st.columns([3, 2], gap="large")
    with left:
        cols = st.columns(2)
        for j, key in enumerate(keys):
            cols[j % 2].slider(_("direction {j} · {share}% of variance").format(j=j + 1,
                                                                                share=f"{100 * found.share[j]:.1f}"),
                               -3.0, 3.0, step=0.05, key=key)
        st.button(_("Back to the mean"), key="dir_pc_reset", icon=":material/restart_alt:",
                  on_click=lambda: st.session_state.update({k: 0.0 for k in keys}))
    z = found.point([st.session_state[k] for k in keys])
    with right:
        decoded = latent.decode_images(run.model, z[None])[0]
        with st.container(key="dir_pc_decoded"):
            st.image(images.display(decoded, 240), width=240)
        st.caption(_("{n} encodings; the {k} directions shown explain {share}% of their variance.").format(
            n=found.count, k=len(keys), share=f"{100 * found.share.sum():.1f}"))
        if st.button(_("Open this z in Latent sliders"), icon=":material/tune:", key="dir_pc_open"):
            _open_in_sliders(path, z, N_("a point set by the principal directions."))


def main() -> None:
    run = shared.current_run()
    st.title(_("Directions"))
    st.caption(_("One latent dimension rarely means something a person would name; a direction often does. Here a "
                 "direction comes from two groups of images, and the encodings' own main directions become sliders."))
    mu, groups, data, x_test = directions.context(run)
    directions.chosen(run, page=PAGE)  # a link's dir= first
    chosen = direction_panel(run, mu, groups, data)
    if chosen is not None and chosen.found is not None:
        analogy_panel(run, chosen, mu, groups, data, x_test)
    principal_panel(run, mu)


main()

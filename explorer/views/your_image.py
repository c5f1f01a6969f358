"""Your image: draw, upload or pick one input x and see what the model makes of it: the encoder's posterior
p(z|x) = N(mu(x), sigma^2(x)) (E3), the decodes of samples z = mu + sigma * eps (E7), the loss of this x in nats
(E1, E4, IWAE), where that loss falls among the test images', and the test images nearest in z.

Container keys: ``draw`` (the canvas), ``reconstruction`` (mu~(mu(x))). Only a picked test image goes into the
link (``input=test:17``). Every input read becomes the session's own input (explorer/state/your_input.py: the
Latent map and the 2-D pad draw its ellipse); "Explore from here" makes mu(x) the latent point.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.figures import images, posterior
from explorer.i18n import N_, _, error_text
from explorer.state import dim_names, latent_point, readings, shared, your_input
from explorer.widgets import downloads, image_input
from explorer.widgets.image_input import DRAWING, FILE, TEST_IMAGE
from training.core.errors import UserError
from training.vae import latent_space

SEED_KEY = "your_image_seed"
EXPLORED = "your_image_explored"  # (run, z) that "Explore from here" last made the latent point
SIDE = 196                        # the input, as the model sees it and its reconstruction, in pixels
TABLE_DIMS = 6                    # dimensions of the first sample's table (the most used first)
NEAREST = 8
# What the latent point says it came from (explorer/state/latent_point.py), as read and when clipped to the sliders
EXPLORE_SOURCES = {
    DRAWING: (N_("μ(x) of your drawing."), N_("μ(x) of your drawing (clipped to the slider range).")),
    FILE: (N_("μ(x) of your image {name}."), N_("μ(x) of your image {name} (clipped to the slider range).")),
    TEST_IMAGE: (N_("μ(x) of test image {index}, read on the Your image page."),
                 N_("μ(x) of test image {index}, read on the Your image page (clipped to the slider range).")),
}
PAGES = (("views/sliders.py", N_("Latent sliders"), ":material/tune:"),
         ("views/scrub.py", N_("Real-time sliders"), ":material/swipe:"),
         ("views/latent_map.py", N_("Latent map"), ":material/scatter_plot:"))


def _new_eps() -> None:
    st.session_state[SEED_KEY] = int(np.random.default_rng().integers(2**31))


def _explore(path: str, mu: np.ndarray, source: str, values: dict) -> None:
    """Make mu(x) the latent point the sliders, the real-time page and the traversal start from."""
    plain, clipped = EXPLORE_SOURCES[source]
    z = latent_point.put(path, mu, clipped if np.abs(mu).max() > latent_point.LIMIT else plain, **values)
    st.session_state[EXPLORED] = (path, z)


def ranking(z_dim: int) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """The sliders' order of the dimensions (KL over the test images, largest first), which are used, their
    names. A model without any record of its KL: index order, none marked unused."""
    _config, history = shared.current_config_and_history()
    kl, active, order = latent_space.ranked_dims(history, z_dim)
    if not history or "kl_per_dim" not in history[-1]:
        active = np.ones(z_dim, dtype=bool)
    return order, active, dim_names.of_history(history, z_dim)


def inputs_column(chosen: image_input.Input, x: np.ndarray) -> None:
    """The original (for a drawing or a file) beside the input as the model sees it, its pixels enlarged."""
    if chosen.original is not None:
        h, w = chosen.original.shape[:2]
        shown = posterior.preview(chosen.original, SIDE)  # its own size: a tall, narrow image is not stretched
        with st.container(width=SIDE, horizontal_alignment="center", gap=None):  # its caption as wide as the rest
            st.image(shown, width=shown.shape[1])
            st.caption(_("{source}, as read: {w}×{h} pixels").format(source=chosen.said, w=w, h=h),
                       text_alignment="center")
    c, h, w = x.shape
    caption = _("As the model sees it: {w}×{h} pixels").format(w=w, h=h)
    if chosen.prepared is not None and chosen.prepared.inverted:
        caption += " · " + _("its light background turned dark, as in the training images")
    if chosen.prepared is not None and chosen.prepared.binarized:
        caption += " · " + _("each pixel drawn once as black or white, as this model's training images were")
    elif chosen.prepared is None:
        caption = _("{source}, as the model sees it: {w}×{h} pixels").format(source=chosen.said, w=w, h=h)
    st.image(images.display(x.transpose(1, 2, 0), SIDE), caption=caption)


def reconstruction_column(path: str, chosen: image_input.Input, reading) -> None:
    with st.container(key="reconstruction"):
        st.image(images.display(reading.recon, SIDE), caption=_("Reconstruction μ̃(μ(x)): the decoder's mean at the "
                                                                "encoder's mean"))
    downloads.image_button(reading.recon, "your-image-reconstruction", "your_image_recon")
    st.button(_("Explore from here"), icon=":material/explore:", key="your_image_explore", type="primary",
              on_click=_explore, args=(path, reading.mu, chosen.source, chosen.values),
              help=_("Make μ(x) the latent point that the sliders, the real-time page and the traversal start from."))
    if st.session_state.get(EXPLORED) == (path, latent_point.clip_round(reading.mu)):
        st.caption(_("μ(x) is now the latent point. Open it in:"))
        for page, title, icon in PAGES:
            st.page_link(page, label=_(title), icon=icon)


def sampling_section(reading, order: np.ndarray, active: np.ndarray, names: list[str | None]) -> None:
    st.subheader(_("The sampling trick: z = μ + σ ⊙ ε (E7)"))
    strip, button = st.columns([6, 1], vertical_alignment="center")
    with strip, st.container(key="samples"):
        st.image(posterior.sample_strip(reading.samples, 8 * SIDE // 2),
                 caption=_("The decoder's mean μ̃(z) at {k} samples z = μ(x) + σ(x) ⊙ ε, ε ~ N(0, I) (seed {seed}): "
                           "what the model's one sample per x in training looks like.").format(
                     k=len(reading.samples), seed=reading.seed))
    button.button(_("New ε"), icon=":material/casino:", key="your_image_new_eps", on_click=_new_eps,
                  help=_("Draw {k} new ε; μ and σ stay what the encoder said, the terms that average over the samples "
                         "(the mean −ln q(x|z), the −ELBO, the IWAE estimate) move with the draw.").format(
                      k=len(reading.samples)))
    dims = [int(k) for k in order[:TABLE_DIMS] if active[k]] or [int(k) for k in order[:TABLE_DIMS]]
    st.dataframe([{"": dim_names.title(k, names), "μ_k": reading.mu[k], "σ_k": reading.sigma[k],
                   "ε_k": reading.eps[0, k], "z_k = μ_k + σ_k ε_k": reading.z[0, k]} for k in dims],
                 hide_index=True, key="your_image_first_sample",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("μ_k", "σ_k", "ε_k", "z_k = μ_k + σ_k ε_k")})
    st.caption(_("The first sample of the strip, in the {n} dimensions the model uses most.").format(n=len(dims)))


def posterior_section(reading, order: np.ndarray, active: np.ndarray, names: list[str | None]) -> None:
    st.subheader(_("The posterior p(z|x) per dimension"))
    titles = [dim_names.title(k, names) for k in range(len(reading.mu))]
    st.plotly_chart(posterior.posterior_chart(reading.mu, reading.sigma, reading.kl_per_dim, order, active, titles),
                    key="your_image_posterior", config=downloads.chart_config("your-image-posterior"))
    st.caption(_("Each dimension's μ_k ± 2σ_k for this x against the prior N(0, 1)'s ±2 band, in the sliders' order "
                 "(largest KL over the test images first); open grey circles: dimensions the model does not use. "
                 "Below, KL_k of this x (E4): {kl} nats in all.").format(kl=f"{reading.kl:.2f}"))


def loss_section(run, reading, tests: readings.TestSet) -> None:
    st.subheader(_("The loss of this x, in nats"))
    cols = st.columns(5)
    cols[0].metric(_("−ln q(x|z), sample 1"), f"{reading.recon_nll[0]:.2f}")
    cols[1].metric(_("−ln q(x|z), mean of {k}").format(k=len(reading.recon_nll)), f"{reading.recon_nll_mean:.2f}")
    cols[2].metric(_("KL (E4)"), f"{reading.kl:.2f}")
    cols[3].metric(_("−ELBO (E1)"), f"{reading.neg_elbo:.2f}")
    cols[4].metric(_("IWAE, K = {k}").format(k=reading.iwae_k), f"{reading.iwae_nll:.2f}",
                   help=_("An importance-weighted estimate of −ln q(x) from {k} samples z: a tighter bound than the "
                          "−ELBO, which it never exceeds on average.").format(k=reading.iwae_k))
    st.caption(_("−ELBO = the mean of −ln q(x|z) over the samples + KL; the lower, the better the model explains x."))
    if tests.x is None:
        st.info(tests.why, icon=":material/info:")
        return
    from training.analysis.one_input import far_outside, percentile

    with st.spinner(_("Measuring the test images' −ELBO (once per model)...")):
        reference = readings.test_neg_elbos(run, tests.x)
    share = percentile(reading.neg_elbo, reference)
    if far_outside(reading.neg_elbo, reference):
        st.warning(_("This input is far outside what the model knows: its −ELBO is higher than that of {pct}% of the "
                     "{n} test images (their median is {median} nats). The encoder still gives a posterior, but the "
                     "model does not explain this input as it explains its data.").format(
            pct=f"{share:.1f}", n=len(reference), median=f"{np.median(reference):.1f}"), icon=":material/warning:")
    else:
        st.caption(_("{pct}% of the {n} test images have a lower −ELBO than this x (their median is {median} "
                     "nats).").format(pct=f"{share:.0f}", n=len(reference), median=f"{np.median(reference):.1f}"))


def nearest_section(run, chosen: image_input.Input, reading, tests: readings.TestSet) -> None:
    if tests.x is None:
        return
    from training.analysis import latent
    from training.analysis.one_input import nearest_test

    st.subheader(_("The nearest test images in z"))
    with st.spinner(_("Encoding the test set...")):
        test_mu = readings.test_mu(run, tests.x)
    if chosen.index is not None:  # a test image: its neighbours, itself left out
        near = [int(i) for i in latent_space.nearest(test_mu, chosen.index, NEAREST)]
    else:
        near = [int(i) for i in nearest_test(reading.mu, test_mu, NEAREST)]
    tiles = latent.to_hwc(tests.x[near])
    with st.container(key="your_image_nearest"):
        for col, i, tile in zip(st.columns(len(near)), near, tiles):
            label = tests.label(i)
            col.image(images.display(tile, 84), caption=f"{i} · {label}" if label is not None else str(i))
    st.caption(_("The test images whose μ(x) lie nearest to this μ(x) (Euclidean distance in z): index · label.")
               if tests.data is not None and tests.data.y_test is not None else
               _("The test images whose μ(x) lie nearest to this μ(x) (Euclidean distance in z), by their index."))
    if len(reading.mu) == 2:
        st.plotly_chart(posterior.posterior_map(test_mu, tests.labels, tests.label_names, reading.mu, reading.sigma),
                        key="your_image_map", config=downloads.chart_config("your-image-map"))
        st.caption(_("The test images' μ(x) and your input's posterior as its 2σ ellipse; the Latent map and the "
                     "Real-time sliders' pad draw it too."))


def main() -> None:
    run = shared.current_run()
    path, cfg = str(run.path), run.config
    z_dim = cfg.model.latent_dim
    st.title(_("Your image"))
    st.caption(_("Draw, upload or pick an image, and see what the encoder makes of it: its posterior p(z|x) = "
                 "N(μ(x), σ²(x)) (E3), decodes of samples z = μ + σ ⊙ ε (E7), and the loss of this one x in nats."))
    tests = readings.test_set(run)
    image_input.from_link(None if tests.x is None else len(tests.x))
    left, middle, right = st.columns([5, 3, 3], gap="large")
    with left:
        try:
            chosen = image_input.choose(run, tests)
            if chosen is not None:
                with st.spinner(_("Reading your input...")):
                    reading = readings.reading(run, chosen.x, int(st.session_state.get(SEED_KEY, 0)))
        except UserError as err:  # one sentence, and nothing else: no stale posterior on the other pages either
            your_input.clear()
            st.error(error_text(err), icon=":material/error:")
            return
    if chosen is None:
        your_input.clear()
        return
    your_input.put(path, reading.mu, reading.sigma, chosen.source, **chosen.values)
    with middle:
        inputs_column(chosen, chosen.x)
    with right:
        reconstruction_column(path, chosen, reading)
    order, active, names = ranking(z_dim)
    sampling_section(reading, order, active, names)
    posterior_section(reading, order, active, names)
    loss_section(run, reading, tests)
    nearest_section(run, chosen, reading, tests)


main()

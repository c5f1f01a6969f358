"""Latent sliders: set z by hand, see the decoder mean mu~(z); traverse one dimension at a time.

Slider keys are ``z_<i>`` (0-based latent index). They show the current latent point
(explorer/state/latent_point.py), which button callbacks and other pages set; a moved slider sets it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from explorer.figures import images, traversal
from explorer.i18n import N_, _
from explorer.state import dim_names, direction, latent_point, shared
from explorer.widgets import compare, directions, downloads, epochs
from explorer.widgets.directions import move
from training.vae import latent_space

IMAGE_WIDTH = 320
# The decoded image is sent at its own size inside the message (images.png_data_uri: no second request); the
# browser scales it up with square pixels, as images.display would, for a fraction of the bytes.
SQUARE_PIXELS = "<style>.st-key-decoded img{image-rendering:pixelated}</style>"
INDEX_KEY = "sliders_image_index"
INTRO_CLOSED = "sliders_intro_closed"  # the visitor closed the introduction: not shown again this session
ALL_DIMS = "all"  # the traversal choice of every dimension (shown translated)
ALONG, PRINCIPAL = "along", "principal"  # traversal rows along the chosen direction, along the principal directions


def _on_reset(path: str, z_dim: int) -> None:
    latent_point.put(path, np.zeros(z_dim), latent_point.PRIOR_MEAN)


def _on_prior(path: str, z_dim: int) -> None:
    seed = int(np.random.default_rng().integers(2**31))
    latent_point.put(path, latent_space.prior_samples(1, z_dim, seed)[0],
                     N_("a sample from the prior q(z) = N(0, I) (seed {seed})."), seed=seed)


def _on_encode(run, x_test, random: bool) -> None:
    from training.analysis import latent

    if random:
        st.session_state[INDEX_KEY] = int(np.random.default_rng().integers(len(x_test)))
    index = int(st.session_state.get(INDEX_KEY, 0))
    mu = latent.encode_dataset(run.model, x_test[index:index + 1])[0]  # E3: mu(x)
    if np.abs(mu).max() > latent_point.LIMIT:
        latent_point.put(str(run.path), mu, N_("μ(x) of test image {index} (clipped to the slider range)."), index=index)
    else:
        latent_point.put(str(run.path), mu, N_("μ(x) of test image {index}."), index=index)


@st.cache_resource(show_spinner=False)
def _blas():
    from threadpoolctl import ThreadpoolController  # scikit-learn's own dependency

    return ThreadpoolController()


def one_blas_thread():
    """numpy's BLAS on one thread for a decode: these products are small (144 x 16 x 400 for the traversal), and
    BLAS's worker threads cost more than they give on a busy machine, up to 70 ms instead of 2 per traversal
    when other processes share the cores (benchmarks/latency.py)."""
    return _blas().limit(limits=1, user_api="blas")


def decode_mean(decoder, z: np.ndarray) -> np.ndarray:
    """mu~(z) as (H, W, C) in [0, 1]: numpy (no torch needed), else the torch model."""
    if decoder is not None:
        with one_blas_thread():
            return decoder.decode_mean(z[None])[0].transpose(1, 2, 0)
    from training.analysis import latent

    return latent.decode_images(epochs.shown(shared.current_run()).model, z)[0]


def decode_batch(decoder):
    """(N, Z) -> mu~(z) as (N, C, H, W): numpy, else the torch model."""
    if decoder is not None:
        def numpy_decode(z: np.ndarray) -> np.ndarray:
            with one_blas_thread():
                return decoder.decode_mean(z)
        return numpy_decode

    def torch_decode(z: np.ndarray) -> np.ndarray:
        from training.analysis import latent

        return latent.decode_images(epochs.shown(shared.current_run()).model, z).transpose(0, 3, 1, 2)
    return torch_decode


@st.fragment
def slider_panel(path: str, config, decoder, order: np.ndarray, labels: list[str], helps: list[str],
                 active: np.ndarray, names: list[str | None], chosen: directions.Chosen | None, principal_of) -> None:
    """Only the sliders, the decoded image and the traversal: a slider change reruns this and nothing else. What
    does not depend on z (LABELS and HELPS of the sliders, by dimension) comes in ready-made from the page's run."""
    z_dim = config.model.latent_dim
    left, right = st.columns([1, 1], gap="large")
    with right:
        z = np.array(latent_point.from_sliders(path, z_dim), dtype=np.float32)
        image_box = st.container()
        with st.container(key="move_along"):  # under the image, drawn first: it says what the image decodes
            shown = move.control("sliders", path, list(map(float, z)), chosen)  # z + t d (z without a direction)
        decoded = decode_mean(decoder, shown)
        with image_box:
            with st.container(key="decoded"):
                st.image(images.png_data_uri(decoded), width=IMAGE_WIDTH)  # E5's mean, 28 x 28 lossless
                st.caption((_("Decoder mean μ̃(z + t·d). Started from {source}") if not np.array_equal(shown, z) else
                            _("Decoder mean μ̃(z). Started from {source}")).format(
                    source=latent_point.source(path, z_dim)))
            downloads.image_button(decoded, "decoded-z", "decoded_z")
    with left:  # drawn after the image (the widgets' values are in the session already): the image goes out first
        ncols = 2 if z_dim > 8 else 1
        per_col = -(-z_dim // ncols)
        cols = st.columns(ncols)
        for rank, i in enumerate(order):  # read down the first column, then the second
            key = f"z_{i}"  # its value given (the session's): else Streamlit reads the whole session per slider
            cols[rank // per_col].slider(labels[i], -latent_point.LIMIT, latent_point.LIMIT,
                                         float(st.session_state.get(key, z[i])), step=latent_point.STEP, key=key,
                                         help=helps[i])
    compared_decodes(shown)
    traversal_panel(path, decoder, order, labels, active, names, chosen, principal_of)


def slider_helps(kl: np.ndarray, active: np.ndarray) -> list[str]:
    """Each latent dimension's help: its KL to the prior, and whether the decoder ignores it."""
    used = _("Latent dimension {i}. Its KL to the prior is {kl} nats per image (E4).")
    unused = _("Latent dimension {i}. Its KL to the prior is {kl} nats per image (E4); below 0.01 nats the decoder "
               "ignores it.")
    return [(used if active[i] else unused).format(i=i, kl=f"{kl[i]:.3f}") for i in range(len(kl))]


def compared_decodes(z: np.ndarray) -> None:
    """The same z through the decoder of each run picked for comparison (equal latent sizes only)."""
    others = compare.picked()
    if not others:
        return
    same = [o for o in others if o.latent_dim == len(z)]
    st.markdown("**" + _("The same z, decoded by the compared runs") + "**")
    if same:
        cols = st.columns(len(same))
        for col, other in zip(cols, same):
            decoder = compare.decoder_of(other)
            if decoder is not None:
                col.image(images.display(decoder.decode_mean(z[None])[0].transpose(1, 2, 0), 160), width=160,
                          caption=other.name)
    skipped = [o.name for o in others if o.latent_dim != len(z)]
    if skipped:
        st.caption(_("Not decoded (another number of latent dimensions): {names}.").format(names=", ".join(skipped)))


def intro() -> None:
    """Two sentences for a newcomer on what this page shows, until the visitor closes them (for the session)."""
    if st.session_state.get(INTRO_CLOSED):
        return
    text, close = st.container(key="sliders_intro").columns([14, 1], vertical_alignment="center")
    with text:
        st.info(_("Each slider is one coordinate of the latent code z, ordered by how much the model uses it; the "
                  "image is what the decoder draws for that z, its mean image μ̃(z) (E5, on the Theory page). The KL on a slider is "
                  "how many nats that dimension carries on average per image (E4); one below 0.01 nats is unused, the "
                  "decoder ignores it."), icon=":material/info:", width="stretch")
    close.button("✕", key="sliders_intro_close", help=_("Close this introduction"),  # a sign, in every language
                 on_click=lambda: st.session_state.update({INTRO_CLOSED: True}))


def buttons(path: str, z_dim: int) -> None:
    b1, b2 = st.columns(2)
    b1.button(_("Reset to zero"), on_click=_on_reset, args=(path, z_dim), icon=":material/restart_alt:",
              width="stretch")
    b2.button(_("Sample from the prior"), on_click=_on_prior, args=(path, z_dim), icon=":material/casino:",
              width="stretch")


def test_image_panel(run, x_test) -> None:
    """Start the sliders from mu(x) of a test image (E3)."""
    st.markdown("**" + _("Start from a test image") + "**")
    c_in, c_buttons, c_img = st.columns([2, 2, 1], vertical_alignment="bottom")
    c_in.number_input(_("Test image index (0 to {last})").format(last=len(x_test) - 1), 0, len(x_test) - 1,
                      key=INDEX_KEY, step=1)
    e1, e2 = c_buttons.columns(2)
    e1.button(_("Encode it"), on_click=_on_encode, args=(run, x_test, False), width="stretch",
              help=_("Set the sliders to μ(x), the encoder's mean for this image (E3)."))
    e2.button(_("Random image"), on_click=_on_encode, args=(run, x_test, True), width="stretch")
    index = int(st.session_state.get(INDEX_KEY, 0))
    original = x_test[index].permute(1, 2, 0).numpy()
    c_img.image(images.display(original, 112), width=112, caption=_("test image {index}").format(index=index))
    others = compare.picked()
    if others:
        from training.analysis import latent

        st.markdown("**" + _("This test image reconstructed by each run") + "**")
        x = x_test[index:index + 1]
        models = [(run.path.name, run.model)] + [(o.name, compare.model_of(o)) for o in others]
        shown = [(name, latent.reconstruct(model, x)[0]) for name, model in models if model is not None]
        for col, (name, recon) in zip(st.columns(len(shown)), shown):
            col.image(images.display(recon, 112), width=112, caption=name)


@st.fragment
def traversal_panel(path: str, decoder, order: np.ndarray, labels: list[str], active: np.ndarray,
                    names: list[str | None], chosen: directions.Chosen | None = None, principal_of=None) -> None:
    """Decoded images along one axis from -3 to +3, the others at the current z. Inside the sliders' fragment,
    so it follows every slider; a fragment of its own, so its controls redraw only it."""
    z_dim = len(order)
    st.subheader(_("Traversal"))
    c1, c2 = st.columns([2, 2])
    words = {ALL_DIMS: _("all (by KL)"), PRINCIPAL: _("the principal directions of the test encodings")}
    if chosen is not None and chosen.found is not None:
        words[ALONG] = _("along {name}").format(name=chosen.name)
    words.update({f"z_{i}": dim_names.title(int(i), names) for i in order})
    if st.session_state.get("traversal_dims") not in words:
        st.session_state["traversal_dims"] = ALL_DIMS  # a direction no longer chosen
    which = c1.selectbox(_("Rows"), list(words), key="traversal_dims", format_func=words.get,
                         help=_("One row per dimension, ordered by KL, largest first; or rows along directions."))
    n = c2.slider(_("Steps from −3 to +3") if which != ALONG else _("Steps from −2 to +2"), 3, 15, 9,
                  key="traversal_steps")
    if which in (ALONG, PRINCIPAL):
        along_panel(which, path, decoder, chosen, principal_of, n)
        return
    dims = [int(i) for i in order] if which == ALL_DIMS else [int(which.split("_")[1])]
    tiles = traversal.tiles(decode_batch(decoder), latent_point.get(path, z_dim), dims, n)
    with st.container(key="traversal_grid"):
        st.html(traversal.grid_html(tiles, [labels[i] for i in dims], [not active[i] for i in dims], _("z_k set to"),
                                    max(24, min(64, 600 // n))))
    st.caption(_("Each row sets one coordinate z_k to the value above its column, from −3 to +3; the others stay at "
                 "the sliders' values and follow them."))
    downloads.image_button(traversal.grid_image(tiles), "traversal", "traversal")


def along_panel(which: str, path: str, decoder, chosen, principal_of, n: int) -> None:
    """Traversal rows along directions from the sliders' z: the chosen one (t from −2 to +2), or each principal
    direction of the test encodings (c from −3 to +3 of its standard deviations)."""
    z = latent_point.get(path, len(chosen.vector) if which == ALONG else principal_of().mean.shape[0])
    if which == ALONG:
        ts = np.linspace(direction.T_MIN, direction.T_MAX, n)
        vectors, labels, corner = chosen.vector[None], [chosen.name], "t"
        caption = _("The row is z + t·d for t from −2 to +2: t = 1 moves by the whole difference of the two groups' "
                    "means.")
    else:
        found = principal_of()
        ts = np.linspace(-3.0, 3.0, n)
        vectors = found.vectors * found.sd[:, None]
        labels = [_("direction {j} · {share}% of variance").format(j=j + 1, share=f"{100 * s:.1f}")
                  for j, s in enumerate(found.share)]
        corner = "c"
        caption = _("Row j is z + c·sd_j·v_j: v_j the j-th principal direction of the test encodings, sd_j their "
                    "standard deviation along it, c from −3 to +3.")
    tiles = traversal.tiles_along(decode_batch(decoder), z, vectors, ts)
    with st.container(key="traversal_grid"):
        st.html(traversal.grid_html(tiles, labels, [False] * len(labels), corner, max(24, min(64, 600 // n)),
                                    column_values=ts))
    st.caption(caption)
    downloads.image_button(traversal.grid_image(tiles), "traversal", "traversal")


def main() -> None:
    # Up to the decoded image nothing needs torch: config, history and a numpy decoder.
    config, history = shared.current_config_and_history()
    z_dim = config.model.latent_dim
    kl, active, order = latent_space.ranked_dims(history, z_dim)
    path = str(shared.current_run_path())
    shared.on_new_model("sliders", lambda: st.session_state.update(traversal_dims=ALL_DIMS))  # its z_k may not exist
    latent_point.sync_sliders(path, z_dim)

    st.title(_("Latent sliders"))
    st.html(SQUARE_PIXELS)
    intro()
    st.caption(_("{z_dim} latent dimensions, ordered by their KL to the prior (largest first); {active} carry "
                 "more than 0.01 nats.").format(z_dim=z_dim, active=int(active.sum())))
    buttons(path, z_dim)
    epochs.scrubber("sliders")
    names = dim_names.of_history(history, z_dim)
    chosen = None
    if direction.get(path) is not None or direction.link_pending():  # only then torch and the test encodings
        chosen = directions.chosen(shared.current_run(), page="sliders")
    labels = [latent_point.label(i, kl[i], active[i], names[i]) for i in range(z_dim)]
    slider_panel(path, config, epochs.decoder(Path(path)), order, labels, slider_helps(kl, active), active, names,
                 chosen, lambda: directions.principal_of(shared.current_run()))

    run = epochs.shown(shared.current_run())  # the torch model, for encoding test images
    x_test = shared.current_test_images(run, shared.current_data(run))
    shared.on_new_model("sliders_test_image", lambda: st.session_state.update(  # a smaller test set than the last
        {INDEX_KEY: min(int(st.session_state.get(INDEX_KEY, 0)), len(x_test) - 1)}))
    test_image_panel(run, x_test)


main()

"""Interpolate: walk from mu(x_a) to mu(x_b) in latent space, in a straight line and along a great
circle, and decode every step."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.figures import images, interpolation
from explorer.i18n import N_, _
from explorer.state import latent_point, shared, view_link
from explorer.widgets import downloads
from training.analysis import latent
from training.core.numbers import whole_number
from training.vae import latent_space

KEY_A, KEY_B = "interp_a", "interp_b"


def _on_random(n_test: int) -> None:
    rng = np.random.default_rng()
    a, b = rng.choice(n_test, size=2, replace=False)
    st.session_state[KEY_A], st.session_state[KEY_B] = int(a), int(b)


def _strip(originals: np.ndarray, path_z: np.ndarray, model) -> np.ndarray:
    """[x_a, decoded steps..., x_b] in one row (float, one pixel per pixel)."""
    decoded = latent.decode_images(model, path_z)
    row = np.concatenate([originals[:1], decoded, originals[1:]])
    return images.image_grid(row, ncols=len(row), pad=2)


def _pair_in_range(n_test: int) -> None:
    """A new model may have a smaller test set than the last one: keep the pair inside it; a link may
    name the pair (a=, b=)."""
    for key, param, default in ((KEY_A, "a", 0), (KEY_B, "b", min(1, n_test - 1))):
        if st.session_state.get(key, default) > n_test - 1 or key not in st.session_state:
            st.session_state[key] = default
        asked = whole_number(view_link.wanted(param))
        if asked is not None and asked < n_test:
            st.session_state[key] = asked


def main() -> None:
    run = shared.current_run()
    x_test = shared.current_test_images(run, shared.current_data(run))
    n_test = len(x_test)
    st.title(_("Interpolate"))
    st.caption(_("Two test images are encoded to their means μ(x) (E3); the decoder draws the points in between. "
                 "The originals sit at both ends of each strip."))
    shared.on_new_model("interpolate", lambda: _pair_in_range(n_test))

    c1, c2, c3, c4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
    a = c1.number_input(_("First image (0 to {last})").format(last=n_test - 1), 0, n_test - 1, key=KEY_A)
    b = c2.number_input(_("Second image (0 to {last})").format(last=n_test - 1), 0, n_test - 1, key=KEY_B)
    steps = c3.slider(_("Steps between"), 3, 16, 8, key="interp_steps")
    c4.button(_("Random pair"), on_click=_on_random, args=(n_test,), icon=":material/shuffle:", width="stretch",
              disabled=n_test < 2)

    view_link.write(a=int(a), b=int(b))
    x = x_test[[int(a), int(b)]]
    mu = latent.encode_dataset(run.model, x)  # (2, Z)
    originals = latent.to_hwc(x)
    width = min(1100, (steps + 2) * 64)

    if st.button(_("Open the halfway point in Latent sliders"), icon=":material/tune:", key="interp_to_sliders",
                 help=_("Make the straight line's middle, (μ_a + μ_b) / 2, the current latent point.")):
        latent_point.put(str(run.path), latent_space.lerp(mu[0], mu[1], 3)[1],
                         N_("halfway between μ(x) of test images {a} and {b}."), a=int(a), b=int(b))
        st.switch_page("views/sliders.py")

    st.subheader(_("Linear"))
    line = latent_space.lerp(mu[0], mu[1], steps + 2)
    strip = _strip(originals, line[1:-1], run.model)
    st.image(images.display(strip, width), width=width)
    downloads.image_button(strip, f"interpolation-{int(a)}-{int(b)}-linear", "strip_linear")
    st.caption("z(t) = (1 − t) μ_a + t μ_b.")

    st.subheader(_("Spherical"))
    path = latent_space.slerp(mu[0], mu[1], steps + 2)
    strip = _strip(originals, path[1:-1], run.model)
    st.image(images.display(strip, width), width=width)
    downloads.image_button(strip, f"interpolation-{int(a)}-{int(b)}-spherical", "strip_spherical")
    mid_lin = float(np.linalg.norm(latent_space.lerp(mu[0], mu[1], 3)[1]))
    mid_sph = float(np.linalg.norm(latent_space.slerp(mu[0], mu[1], 3)[1]))
    st.caption(_(
        "z(t) = sin((1 − t)Ω)/sin Ω · μ_a + sin(tΩ)/sin Ω · μ_b, Ω the angle between them. ‖μ_a‖ = {norm_a}, "
        "‖μ_b‖ = {norm_b}; halfway the straight line has norm {mid_lin}, the arc {mid_sph}. Prior samples have norm "
        "near √{z_dim} = {typical}, so the straight line's middle passes through a region the prior rarely visits."
    ).format(norm_a=f"{np.linalg.norm(mu[0]):.2f}", norm_b=f"{np.linalg.norm(mu[1]):.2f}", mid_lin=f"{mid_lin:.2f}",
             mid_sph=f"{mid_sph:.2f}", z_dim=mu.shape[1], typical=f"{np.sqrt(mu.shape[1]):.2f}"))

    st.subheader(_("The prior along both paths"))
    st.plotly_chart(interpolation.prior_along({_("Linear"): line, _("Spherical"): path}), key="interp_prior",
                    config=downloads.chart_config(f"interpolation-{int(a)}-{int(b)}-prior"))
    st.caption(_("Left, the prior log-density ln q(z) = ln N(z; 0, I) at each step; right, the norm |z|. The density "
                 "is highest at z = 0, so the straight line's low-norm middle looks more likely, yet it is atypical: "
                 "samples of the prior have norm near √Z (dashed). The spherical path keeps the norm of its ends (exactly "
                 "when they are equal), so it stays as typical as they are."))


main()

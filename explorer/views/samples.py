"""Samples: draw z from the prior q(z) = N(0, I) (E2) and show the decoder mean mu~(z) of each."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.figures import images
from explorer.i18n import _
from explorer.state import shared
from explorer.widgets import downloads, epochs
from training.analysis import latent
from training.vae import latent_space

SEED_KEY = "samples_seed"


def _on_reseed() -> None:
    st.session_state[SEED_KEY] = int(np.random.default_rng().integers(1_000_000))


def main() -> None:
    run = shared.current_run()
    z_dim = run.config.model.latent_dim
    st.title(_("Samples"))
    st.caption(_("Each image decodes one z drawn from the prior q(z) = N(0, I) (E2): what the model generates on its "
                 "own, without an input image. Shown is the decoder mean μ̃(z), not a noisy draw."))
    epochs.scrubber("samples")
    run = epochs.shown(run)
    st.session_state.setdefault(SEED_KEY, 0)
    c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
    seed = c1.number_input(_("Seed"), 0, 1_000_000, key=SEED_KEY, step=1)
    side = c2.slider(_("Grid side"), 2, 16, 8, key="samples_side")
    c3.button(_("New samples"), on_click=_on_reseed, icon=":material/casino:", width="stretch")

    z = latent_space.prior_samples(side * side, z_dim, int(seed))
    decoded = latent.decode_images(run.model, z)
    grid = images.image_grid(decoded, ncols=side, pad=1)
    width = min(720, max(240, side * 72))
    st.image(images.display(grid, width), width=width)
    downloads.image_button(grid, f"samples-seed-{int(seed)}", "samples")
    st.caption(_("{n} samples, seed {seed}, z = {z_dim} dimensions.").format(n=side * side, seed=int(seed), z_dim=z_dim))


main()

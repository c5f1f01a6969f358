"""Theory: the derivation E1..E7 of docs/theory.md (docs/theory.zh.md in Chinese), each term beside its
value on a batch of test images under the current model. Notation of the notes: p(z|x) encoder,
q(x|z) decoder, q(z) prior; a note says how that maps to Kingma and Welling's q_φ(z|x), p_θ(x|z), p(z)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.figures import charts
from explorer.i18n import _
from explorer.state import shared
from training.analysis import latent
from training.vae.likelihoods import LOG_2PI

SIGMAS = (0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
BATCH_SIZES = (64, 128, 256, 512)


@st.cache_data(max_entries=16, show_spinner=False)
def _terms(path: str, digest: str, n_images: int, n_mc: int, seed: int, _model, _x) -> latent.TheoryTerms:
    return latent.theory_terms(_model, _x[:n_images], n_mc=n_mc, seed=seed)


@st.cache_data(max_entries=8, show_spinner=False)
def _factor_info(path: str, digest: str, _model, _x, _factors, factor_names: tuple[str, ...]):
    from training.analysis import disentangle

    return disentangle.of_model(_model, _x, _factors, list(factor_names))


def _mig_row(run, data) -> None:
    """Beyond E1..E7: how well the code separates the data's known factors (training/analysis/disentangle.py)."""
    info = _factor_info(str(run.path), shared.weights_digest(run.path), run.model,
                        shared.current_test_images(run, data), data.y_test.numpy(), tuple(data.factor_names))
    left, right = _row(_("Disentanglement · the mutual information gap"))
    left.latex(r"I(z_k; v_f) = \sum_{a,b} p(a,b) \ln \frac{p(a,b)}{p(a)\,p(b)}, \qquad "
               r"\mathrm{MIG} = \frac1F \sum_{f=1}^{F} \frac{I(z_{(1)}; v_f) - I(z_{(2)}; v_f)}{H(v_f)}")
    left.markdown(_("This data set comes with the true factors v_f that drew each image. z_k is the encoder's mean "
                    "μ_k(x) (E3) on the test images; both are cut into at most 20 bins. z_(1) and z_(2) are the two "
                    "dimensions that tell most about v_f: the gap is large when one dimension alone holds the factor "
                    "(Chen et al. 2018). β > 1 presses the code towards the prior's independent axes, which is why "
                    "β-VAEs separate factors more often."))
    right.metric(_("MIG on the {n} test images").format(n=len(data.y_test)), f"{info.mig:.3f}")
    from explorer.state import dim_names

    gaps = ", ".join(f"{dim_names.factor_title(f)} {g:.2f}" for f, g in zip(info.factor_names, info.mig_per_factor))
    right.caption(_("Gap per factor: {gaps}.").format(gaps=gaps))


def _row(title: str):
    """A heading, then (equation column, live-value column)."""
    st.subheader(title)
    return st.columns([3, 2], gap="large")


def _pm(value: float, se: float) -> str:
    return f"{value:.2f} ± {se:.2f}"


def main() -> None:
    run = shared.current_run()
    data = shared.current_data(run)
    cfg = run.config
    d, big_d = cfg.model.latent_dim, cfg.model.image_shape[0] * cfg.model.image_shape[1] * cfg.model.image_shape[2]
    st.title(_("Theory"))
    st.caption(_("The loss this project trains, one equation at a time (docs/theory.md), in the notation of the "
                 "original notes: p(z|x) is the encoder, q(x|z) the decoder, q(z) the prior. Every number is in nats "
                 "per image, on a batch of test images under the current model."))
    st.info(_("Other texts swap the letters: Kingma and Welling's paper and the Keras VAE example write the encoder "
              "as q_φ(z|x), the decoder as p_θ(x|z) and the prior as p(z). Here, as in the notes, p is what comes "
              "from the data (the encoder p(z|x)) and q is the model (the decoder q(x|z) and the prior q(z)). The "
              "equations are the same; only the names of the distributions trade places."),
            icon=":material/swap_horiz:")
    c1, c2, c3 = st.columns(3)
    sizes = [n for n in BATCH_SIZES if n < len(data.x_test)] + [min(1000, len(data.x_test))]
    n_images = c1.select_slider(_("Test images in the batch"), sizes, value=256 if 256 in sizes else sizes[-1],
                                key="theory_n")
    n_mc = c2.slider(_("Samples z per image (Monte Carlo)"), 2, 128, 32, key="theory_mc")
    seed = int(c3.number_input(_("Seed"), 0, 1_000_000, 0, key="theory_seed"))
    with st.spinner(_("Computing the terms on the batch...")):
        t = _terms(str(run.path), shared.weights_digest(run.path), n_images, n_mc, seed, run.model,
                   shared.current_test_images(run, data))

    left, right = _row(_("E1 · the objective"))
    left.latex(r"L = \mathbb{E}_{x \sim p(x)}\Big[\underbrace{\mathbb{E}_{z \sim p(z|x)}\big[-\ln q(x|z)\big]}"
               r"_{\text{" + _("reconstruction") + r"}} + \underbrace{\mathrm{KL}\big(p(z|x)\,\Vert\,q(z)\big)}"
               r"_{\text{" + _("KL / rate") + r"}}\Big]")
    left.markdown(_("Minimising KL(p(x,z) ‖ q(x,z)) and dropping the data's constant entropy leaves L, the negative "
                    "ELBO: an upper bound on −ln q(x). Reconstruction wants z to carry information; KL wants none."))
    right.metric(_("reconstruction −ln q(x|z)"), f"{t.recon_nll:.2f}")
    right.metric(_("KL (closed form, E4)"), f"{t.kl:.2f}")
    right.metric(_("total L = −ELBO"), f"{t.neg_elbo:.2f}")
    tc = cfg.train
    if tc.beta != 1.0 or tc.free_bits > 0 or tc.warmup_epochs or tc.cycles:
        kl_in_loss = float(np.maximum(t.kl_per_dim, tc.free_bits).sum()) if tc.free_bits > 0 else t.kl
        right.caption(charts.loss_note(tc.beta, tc.warmup_epochs, tc.cycles, tc.free_bits) + " "
                      + _("At the end of training (β = {beta}) that loss on this batch is {value}.").format(
                          beta=f"{tc.beta:g}", value=f"{t.recon_nll + tc.beta * kl_in_loss:.2f}"))

    left, right = _row(_("E2 · the prior"))
    left.latex(r"q(z) = \mathcal N(0, I_d), \qquad \ln q(z) = -\tfrac12 \lVert z \rVert^2 - \tfrac d2 \ln 2\pi")
    left.markdown(_("No parameters. Sampling the model means drawing z ~ q(z) and decoding it (the Samples page)."))
    right.metric("E[−ln q(z)], z ~ p(z|x)", f"{t.cross_entropy:.2f}")
    right.caption(_("d = {d}. Under the prior itself this would be d/2 (1 + ln 2π) = {value}.").format(
        d=d, value=f"{d / 2 * (1 + LOG_2PI):.2f}"))

    left, right = _row(_("E3 · the encoder"))
    left.latex(r"p(z|x) = \mathcal N\big(\mu(x), \operatorname{diag}\sigma^2(x)\big)")
    left.markdown(_("The network outputs μ and ln σ² (`mu`, `logvar`); σ = exp(½ ln σ²) needs no constraint."))
    right.metric(_("mean σ_k(x)"), f"{t.sigma_mean:.3f}")
    right.caption(_("σ_k near 1 with μ_k near 0 for every x: dimension k is at the prior and carries nothing."))

    left, right = _row(_("E4 · closed-form KL"))
    left.latex(r"\mathrm{KL}\big(p(z|x)\,\Vert\,q(z)\big) = \sum_{k=1}^{d} "
               r"\tfrac12\big(\mu_k^2 + \sigma_k^2 - \ln \sigma_k^2 - 1\big)")
    left.latex(r"= \underbrace{\mathbb{E}[\ln p(z|x)]}_{\sum_k -\frac12\ln(2\pi\sigma_k^2) - \frac12}"
               r" + \underbrace{\mathbb{E}[-\ln q(z)]}_{\sum_k \frac12 \ln 2\pi + \frac12(\mu_k^2+\sigma_k^2)}")
    left.markdown(_("Both are diagonal Gaussians, so the KL is exact, per dimension. The Monte-Carlo estimate averages "
                    "ln p(z|x) − ln q(z) over sampled z: it must agree within its standard error."))
    right.metric(_("KL, closed form"), f"{t.kl:.3f}")
    right.metric(_("KL, Monte Carlo ({n} z per image)").format(n=t.n_mc), _pm(t.kl_mc, t.kl_mc_se))
    right.caption(_("E[ln p(z|x)] = {a} and E[−ln q(z)] = {b} add up to {total}.").format(
        a=f"{t.neg_entropy:.2f}", b=f"{t.cross_entropy:.2f}", total=f"{t.neg_entropy + t.cross_entropy:.2f}"))

    _decoder_rows(t, cfg, big_d)

    left, right = _row(_("E7 · the sampling trick"))
    left.latex(r"z = \mu(x) + \sigma(x) \odot \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I_d)")
    left.latex(r"L \approx \frac1B \sum_{x}\Big[-\ln q(x|z) + \mathrm{KL}\big(p(z|x)\,\Vert\,q(z)\big)\Big]")
    left.markdown(_("The randomness sits in ε, so gradients flow through μ and σ. Training uses one z per x; the KL "
                    "stays analytic (E4), only the reconstruction is sampled."))
    right.metric(_("−ln q(x|z), {n} z per image").format(n=t.n_mc), _pm(t.recon_nll, t.recon_se))
    right.caption(_("With one z per image the standard error would be about √{n} = {factor} times larger: {se} nats "
                    "on this batch.").format(n=t.n_mc, factor=f"{t.n_mc ** 0.5:.1f}",
                                             se=f"{t.recon_se * t.n_mc ** 0.5:.2f}"))

    if data.labels_are_factors and data.factor_names:
        _mig_row(run, data)

    _sigma_balance(t, cfg)


def _decoder_rows(t: latent.TheoryTerms, cfg, big_d: int) -> None:
    """E5, E6 (and the Bernoulli decoder): live values for the one the current model uses."""
    uses = {"bernoulli": _("This model's decoder is Bernoulli (the section below), so this equation does not apply "
                           "to it and has no live value."),
            "gaussian": _("This model's decoder is Gaussian with a constant σ̃ = {sigma} (E6), so this equation does not "
                          "apply to it and has no live value.").format(sigma=f"{cfg.model.sigma:g}"),
            "gaussian-learned": _("This model's decoder is Gaussian with its own σ̃ (E5), so this equation does not "
                                  "apply to it and has no live value.")}
    not_this = uses.get(t.likelihood, _("This model's decoder is {likelihood}, so this equation does not apply to it "
                                        "and has no live value.").format(likelihood=t.likelihood))
    this_one = " (" + _("this model") + ")"

    left, right = _row(_("E5 · Gaussian decoder with its own σ̃") + (this_one if t.likelihood == "gaussian-learned" else ""))
    left.latex(r"-\ln q(x|z) = \frac12 \Big\lVert \frac{x - \tilde\mu(z)}{\tilde\sigma(z)} \Big\rVert^2 "
               r"+ \frac D2 \ln 2\pi + \frac12 \sum_{i=1}^{D} \ln \tilde\sigma_i^2(z)")
    left.markdown(_("The first term rewards accuracy, scaled by the decoder's confidence; the last charges for "
                    "confidence. σ̃ needs a floor (σ_min = {floor}): without it the likelihood is unbounded and "
                    "training degenerates.").format(floor=f"{cfg.model.min_sigma:g}"))
    if t.likelihood == "gaussian-learned":
        right.metric("−ln q(x|z)", f"{t.recon_nll:.2f}")
        right.metric(_("mean σ̃ over pixels"), f"{t.sigma:.4f}")
        right.caption(_("‖x − μ̃‖² = {sq}; mean per-pixel weight 1/(2σ̃²) = {weight}; D = {big_d}.").format(
            sq=f"{t.sq_error:.2f}", weight=f"{t.recon_weight:.1f}", big_d=big_d))
    else:
        right.caption(not_this)

    left, right = _row(_("E6 · Gaussian decoder with constant σ̃") + (this_one if t.likelihood == "gaussian" else ""))
    left.latex(r"-\ln q(x|z) = \frac{1}{2\tilde\sigma^2} \lVert x - \tilde\mu(z) \rVert^2 "
               r"+ \frac D2 \ln 2\pi + D \ln \tilde\sigma")
    left.markdown(_("The last two terms are constants; the project reports them anyway, so the numbers are true nats "
                    "that add up with the KL."))
    if t.likelihood == "gaussian":
        right.metric("1/(2σ̃²) · ‖x − μ̃‖²", f"{t.recon_weight * t.sq_error:.2f}")
        right.metric(_("constants D/2 ln 2π + D ln σ̃"), f"{t.recon_const:.2f}")
        right.metric("−ln q(x|z)", f"{t.recon_nll:.2f}")
        right.caption(f"σ̃ = {t.sigma:g}, ‖x − μ̃‖² = {t.sq_error:.2f}, D = {big_d}.")
    else:
        right.caption(not_this)

    if t.likelihood == "bernoulli":
        left, right = _row(_("Bernoulli decoder (this model; beyond the notes)"))
        left.latex(r"-\ln q(x|z) = \sum_{i=1}^{D} \big[\operatorname{softplus}(\ell_i) - x_i \ell_i\big], "
                   r"\qquad \tilde\mu_i = \operatorname{sigmoid}(\ell_i)")
        left.markdown(_("Binary cross-entropy on the decoder's logits ℓ, summed over pixels; no constants dropped."))
        right.metric("−ln q(x|z)", f"{t.recon_nll:.2f}")
        right.caption(_("D = {big_d} pixel values: {per} nats per value.").format(big_d=big_d,
                                                                                 per=f"{t.recon_nll / big_d:.4f}"))


def _sigma_balance(t: latent.TheoryTerms, cfg) -> None:
    st.subheader(_("What σ̃ does to the balance"))
    st.latex(r"2\tilde\sigma^2 L \;\sim\; \lVert x - \tilde\mu \rVert^2 + 2\tilde\sigma^2\,\mathrm{KL}"
             r"\qquad\Rightarrow\qquad \beta_{\text{" + _("equivalent") + r"}} = 2\tilde\sigma^2")
    st.markdown(_("Multiplying the loss by a constant does not move its minimum, so a constant-σ̃ Gaussian VAE is a "
                  "sum-of-squares autoencoder whose KL weight is 2σ̃². Small σ̃: errors are expensive, sharper images, "
                  "more information through z. Large σ̃: errors are cheap, blurrier images, and past some point the "
                  "cheapest solution ignores z (posterior collapse)."))
    if t.likelihood == "bernoulli":
        st.info(_("This model's decoder is Bernoulli: it has no σ̃. Its reconstruction term is a cross-entropy with a "
                  "fixed scale, so the balance is set by β alone (here β = {beta}). Train with the Gaussian likelihood "
                  "to explore σ̃.").format(beta=f"{cfg.train.beta:g}"))
    weight, equivalent, this = _("recon weight 1/(2σ̃²)"), _("equivalent β = 2σ̃²"), _("this model")
    rows = [{"σ̃": s, weight: round(latent.recon_weight(s), 2), equivalent: 2 * s * s,
             this: "◀" if t.likelihood == "gaussian" and abs(s - (t.sigma or 0)) < 1e-9 else ""}
            for s in SIGMAS]
    if t.likelihood == "gaussian" and all(abs(s - t.sigma) > 1e-9 for s in SIGMAS):
        rows.append({"σ̃": t.sigma, weight: round(t.recon_weight, 2), equivalent: 2 * t.sigma**2, this: "◀"})
        rows.sort(key=lambda r: r["σ̃"])
    st.dataframe(rows, hide_index=True)
    if t.likelihood == "gaussian":
        said = _("This model: σ̃ = {sigma}, so reconstruction errors weigh {weight} per squared unit, like β = {beta}.")
        if cfg.train.beta != 1:
            said = _("This model: σ̃ = {sigma}, so reconstruction errors weigh {weight} per squared unit, like β = "
                     "{beta} (times the trained β = {trained}).")
        st.caption(said.format(sigma=f"{t.sigma:g}", weight=f"{t.recon_weight:.3g}", beta=f"{2 * t.sigma**2:.3g}",
                               trained=f"{cfg.train.beta:g}"))


main()

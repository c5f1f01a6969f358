"""Balance: how reconstruction and KL (E1) traded off during training, which latent dimensions are
used, where this run sits among all saved runs, and a plain warning when the posterior collapsed."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.figures import charts
from explorer.figures.rate_distortion import rate_distortion
from explorer.i18n import _
from explorer.state import dim_names, shared
from explorer.widgets import compare, downloads, live, model_words
from training.analysis import latent
from training.analysis.disentangle import LABEL_MARGIN, LABEL_MIN_NMI
from training.models.open import RUN, model_kind
from training.vae import latent_space


@st.cache_data(max_entries=8, show_spinner=False)
def _latent_variance(path: str, digest: str, _model, _x) -> np.ndarray:
    """A_k = Var_x(mu_k(x)) over the test set: the active-unit statistic."""
    return latent_space.latent_variance(latent.encode_dataset(_model, _x))


def collapse_advice(config) -> list[str]:
    """The likely fixes for a collapsed posterior, for this run's settings."""
    train, model = config.train, config.model
    tips = []
    if train.beta > 1.0:
        tips.append(_("lower β (now {beta}; β = 1 is the plain ELBO)").format(beta=f"{train.beta:g}"))
    if train.warmup_epochs == 0 and train.cycles == 0:
        tips.append(_("use a KL warm-up ('Warm-up epochs') or cyclical annealing, so that the decoder learns to use z "
                      "first"))
    if train.free_bits == 0:
        tips.append(_("give each dimension free bits ('Free bits', e.g. 0.1 to 0.5 nats)"))
    if model.likelihood == "gaussian":
        tips.append(_("use a smaller σ̃ (now {sigma}): the reconstruction weight 1/(2σ̃²) = {weight} is too low against "
                      "the KL").format(sigma=f"{model.sigma:g}", weight=f"{latent.recon_weight(model.sigma):.3g}"))
    if not tips:
        tips.append(_("train longer, or with a smaller β"))
    return tips


def factor_section(run, kl: np.ndarray) -> None:
    """For data with known factors: which dimension tracks which factor, and the MIG
    (training/analysis/disentangle.py)."""
    last = run.history[-1]
    if last.get("factor_nmi") is None:
        return
    z_dim = run.config.model.latent_dim
    st.subheader(_("What each dimension tracks"))
    names = dim_names.of_history(run.history, z_dim)
    order = latent_space.dims_by_kl(kl)
    nmi = np.asarray(last["factor_nmi"])[order]
    st.metric(_("MIG (mutual information gap)"), f"{last['mig']:.3f}",
              help=_("For each factor, the share of its entropy told by the best dimension minus that told by the "
                     "second best, averaged over the factors: 1 when every factor lives in one dimension of its own, "
                     "0 when each is spread over several. See the Theory page."))
    st.plotly_chart(charts.factor_matrix(nmi, [dim_names.title(int(k), names) for k in order],
                                          [dim_names.factor_title(f) for f in last["factors"]]),
                    key="balance_factors", config=downloads.chart_config("factor-information"))
    st.caption(_("Rows: latent dimensions by KL; columns: the data set's known factors. A dimension is named after a "
                 "factor when it tells at least {min_share} of that factor's entropy and at least {margin} times what "
                 "it tells about any other factor; the names appear on the sliders, the traversal and the map.").format(
        min_share=f"{LABEL_MIN_NMI:g}", margin=f"{LABEL_MARGIN:g}"))
    if len(run.history) > 1:
        st.plotly_chart(charts.mig_curve(run.history), key="balance_mig", config=downloads.chart_config("mig"))


def main() -> None:
    run = shared.current_run()
    data = shared.current_data(run)
    cfg = run.config
    z_dim = cfg.model.latent_dim
    st.title(_("Balance"))
    st.caption(_("The loss (E1) is reconstruction −ln q(x|z) plus β times KL(p(z|x) ‖ q(z)), in nats per image. "
                 "Reconstruction wants z to carry information about x; the KL wants p(z|x) to look like the prior."))

    live.follow_training("balance")
    if not run.history:
        if model_kind(run.path) != RUN:  # a model from elsewhere
            st.info(_("This model came from elsewhere without a training history, so there are no curves per epoch "
                      "to plot; Theory shows its terms on test images, and python -m training evaluate scores it."))
        else:
            st.info(_("This run has no finished epoch yet, so there is nothing to plot."))
        return
    last = run.history[-1]
    kl = latent_space.last_kl_per_dim(run.history, z_dim)
    variance = _latent_variance(str(run.path), shared.weights_digest(run.path), run.model,
                                shared.current_test_images(run, data))
    active = latent_space.active_mask(variance)

    m = st.columns(4)
    m[0].metric(_("test −ln q(x|z)"), f"{last['test_recon']:.2f}")
    m[1].metric(_("test KL"), f"{last['test_kl']:.2f}")
    m[2].metric(_("test −ELBO"), f"{last['test_neg_elbo']:.2f}")
    m[3].metric(_("active units"), f"{int(active.sum())} / {z_dim}")

    if latent_space.posterior_collapsed(last.get("test_kl"), int(active.sum())):
        tips = _("; ").join(collapse_advice(cfg))
        st.warning(_("The posterior has collapsed: test KL is {kl} nats and {active} of {z_dim} dimensions are active, "
                     "so the decoder ignores z and draws roughly the average image. Likely fixes: {tips}.").format(
            kl=f"{last['test_kl']:.2f}", active=int(active.sum()), z_dim=z_dim, tips=tips))

    st.subheader(_("Per epoch"))
    schedule = (cfg.train.beta, cfg.train.warmup_epochs, cfg.train.cycles, cfg.train.free_bits)
    st.plotly_chart(charts.loss_curves(run.history, train_loss=charts.train_loss_formula(*schedule)),
                    key="balance_curves",
                    config=downloads.chart_config("loss-curves"))
    st.caption(charts.loss_note(*schedule))

    others = compare.picked()
    if others:
        st.subheader(_("Compared with other runs"))
        histories = [(run.path.name, run.history)] + [(o.name, shared.load_run_of(o.path).history) for o in others]
        st.plotly_chart(charts.compare_curves(histories), key="balance_compare",
                        config=downloads.chart_config("compared-runs"))
        st.caption(_("Test reconstruction, KL and −ELBO per epoch; the current run is the thick line. Pick the runs "
                     "under “Compare with” in the sidebar."))

    st.subheader(_("KL per dimension"))
    st.plotly_chart(charts.kl_bars(kl, active), key="balance_kl_bars", config=downloads.chart_config("kl-per-dimension"))
    st.caption(_("{active} of {z_dim} dimensions are active: the variance over test images of their mean mu_k(x) "
                 "exceeds 0.01. Inactive (grey) dimensions sit at the prior and carry nothing.").format(
        active=int(active.sum()), z_dim=z_dim))

    factor_section(run, kl)

    st.subheader(_("Rate and distortion of every saved run"))
    runs = [r for r in shared.available_runs() if not model_words.is_foreign(r)]  # no training here: no figures
    st.plotly_chart(rate_distortion(runs, current=str(run.path), picked=[str(o.path) for o in others]),
                    key="balance_rd", config=downloads.chart_config("rate-distortion"))
    st.caption(_("One plane per data set (their nats are not comparable), each point a saved run of this library "
                 "named on the plane; rate: test KL, distortion: test −ln q(x|z); one colour per decoder "
                 "likelihood. Hover a point for its data set, z, β and figures. The current run is outlined in "
                 "black, compared runs in orange; models from elsewhere have no test figures and are not shown."))

main()

"""Compare runs: pick others on the same data set; Balance overlays them, Latent sliders decodes and
reconstructs with each, the link carries them."""

from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from explorer.widgets import compare
from training.core.config import RunConfig
from training.runs.checkpoint import write_views
from training.vae.model import VAE
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"


def twin(runs: Path) -> Path:
    """A second 16-dimensional mnist5k model (untrained) with a short history."""
    run_dir = runs / "twin-z16"
    run_dir.mkdir(parents=True)
    config = RunConfig(model={"latent_dim": 16}, train={"dataset": "mnist5k", "epochs": 2})
    torch.manual_seed(1)
    history = [{"epoch": e, "test_recon": 200.0 - e, "test_kl": 5.0 + e, "test_neg_elbo": 205.0, "beta": 1.0,
                "train_recon": 201.0, "train_kl": 5.0, "train_loss": 206.0, "active_units": 3} for e in (1, 2)]
    write_views(run_dir, config, VAE(config.model).eval(), 2, history)
    return run_dir


def open_app(runs: Path) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMOS / "mnist5k-z16")
    at.session_state["runs_root"] = str(runs)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_compared_runs_show_side_by_side_on_balance_and_latent_sliders(tmp_path):
    other = twin(tmp_path)
    at = open_app(tmp_path)
    offered = " ".join(at.multiselect(key=compare.KEY).options)
    assert "twin-z16" in offered and "mnist5k-z2" in offered
    at.session_state[compare.KEY] = [str(other.resolve()), str((DEMOS / "mnist5k-z2").resolve())]
    at.switch_page("views/balance.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Compared with other runs" in [h.value for h in at.subheader]
    figure = [c for c in at.get("plotly_chart") if "twin-z16" in c.proto.spec]
    assert figure and "mnist5k-z2" in figure[0].proto.spec and "mnist5k-z16" in figure[0].proto.spec

    at.switch_page("views/sliders.py").run()
    assert not at.exception, [e.value for e in at.exception]
    markdown = " ".join(m.value for m in at.markdown)
    assert "The same z, decoded by the compared runs" in markdown
    assert "This test image reconstructed by each run" in markdown
    assert any("Not decoded (another number of latent dimensions): mnist5k-z2." in c.value for c in at.caption)
    assert "twin-z16,mnist5k-z2" in str(at.query_params["compare"])  # the link carries them


def test_runs_of_another_data_set_are_not_offered_and_drop_out(tmp_path):
    run_dir = tmp_path / "digits-run"
    run_dir.mkdir()
    config = RunConfig(model={"image_shape": (1, 8, 8), "latent_dim": 2, "hidden": (16,)}, train={"dataset": "digits"})
    write_views(run_dir, config, VAE(config.model).eval(), 1, [{"epoch": 1}])
    at = open_app(tmp_path)
    assert not [o for o in at.multiselect(key=compare.KEY).options if "digits-run" in str(o)]
    at.session_state[compare.KEY] = [str(run_dir.resolve())]
    at.run()
    assert at.session_state[compare.KEY] == []

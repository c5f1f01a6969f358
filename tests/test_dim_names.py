"""Named dimensions in the app: a run whose dimension k copies factor f has k named f on the sliders, the
traversal and the map's axes; Balance shows the NMI matrix and the MIG, Theory the MIG's definition."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from training.analysis import latent
from training.core.config import RunConfig
from training.data import load_dataset
from training.jobs.trainer import Trainer
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parents[1] / "explorer" / "app.py"
COPIED_DIM, COPIED_FACTOR = 1, 1  # z_1 copies factor 1, the scale


@pytest.fixture(scope="module")
def copying_run(tmp_path_factory):
    """A tiny shapes run trained one epoch, whose recorded codes are the encoder's means except that z_1 is
    replaced by the true scale of each test image: what a perfectly scale-tracking dimension looks like."""
    data = load_dataset("shapes", image_size=12)
    config = RunConfig(model={"image_shape": (1, 12, 12), "hidden": (32,), "latent_dim": 3},
                       train={"dataset": "shapes", "epochs": 1, "batch_size": 256, "seed": 0})
    run_dir = tmp_path_factory.mktemp("runs") / "copies-scale"
    real = latent.encode_dataset
    scale = data.y_test[:, COPIED_FACTOR].numpy()

    def encode(model, x, batch=None):
        mu = real(model, x, batch)
        if len(mu) == len(scale):
            mu[:, COPIED_DIM] = scale
        return mu

    mp = pytest.MonkeyPatch()
    mp.setattr(latent, "encode_dataset", encode)
    try:
        Trainer(config, data, run_dir=run_dir).fit()
    finally:
        mp.undo()
    return run_dir


def open_page(run_dir: Path, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(run_dir)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_copying_dimension_is_named_on_the_sliders_the_traversal_and_the_map(copying_run):
    at = open_page(copying_run)
    labels = {k: at.slider(key=f"z_{k}").label for k in range(3)}
    assert "scale" in labels[COPIED_DIM] and labels[COPIED_DIM].startswith(f"z_{COPIED_DIM} · scale")
    assert not any("scale" in labels[k] for k in range(3) if k != COPIED_DIM)
    traversal = [h.proto.body for h in at.get("html") if 'class="traversal"' in h.proto.body]
    assert len(traversal) == 1 and f"z_{COPIED_DIM} · scale" in traversal[0]  # the traversal's row label
    at.switch_page("views/latent_map.py").run()
    at.radio(key="map_method").set_value("dims").run()
    at.selectbox(key="map_dim_x").set_value(COPIED_DIM).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="map_dim_x").format_func(COPIED_DIM) == f"z_{COPIED_DIM} (scale)"
    (chart,) = at.get("plotly_chart")
    assert f"z_{COPIED_DIM} (scale)" in chart.proto.spec  # the x axis' title


def test_balance_shows_the_mig_and_the_matrix_and_theory_defines_the_mig(copying_run):
    at = open_page(copying_run, "views/balance.py")
    metrics = {m.label: m.value for m in at.metric}
    mig = float(metrics["MIG (mutual information gap)"])
    assert 0.1 < mig <= 1.0  # the scale lives in z_1 alone: its gap is large
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any('"type":"heatmap"' in s.replace(" ", "") and "x position" in s for s in specs)
    at.switch_page("views/theory.py").run()
    assert not at.exception, [e.value for e in at.exception]
    theory = {m.label: m.value for m in at.metric}
    assert any(label.startswith("MIG on the 2000 test images") for label in theory)


def test_the_models_card_shows_the_mig(copying_run, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(copying_run.parent))
    at = open_page(copying_run, "views/models.py")
    assert any("MIG" in m.value for m in at.markdown)


def test_runs_without_known_factors_have_plain_names():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.run()
    assert not at.exception
    assert all(s.label.split(" · ")[1].startswith("KL") for s in at.slider if s.key and s.key.startswith("z_"))
    at.switch_page("views/balance.py").run()
    assert "MIG (mutual information gap)" not in [m.label for m in at.metric]


def test_the_bundled_shapes_demo_loads_and_names_at_least_three_factors():
    from explorer import DEMOS
    from training.analysis.disentangle import labels_of_record
    from training.models.open import load_run

    demo = DEMOS / "shapes-z10-b16"
    run = load_run(demo)
    assert run.config.train.dataset == "shapes" and run.config.train.beta > 1
    names = [n for n in labels_of_record(run.history[-1], run.config.model.latent_dim) if n]
    assert len(set(names)) >= 3, names
    at = open_page(demo)
    named = [at.slider(key=f"z_{k}").label for k in range(run.config.model.latent_dim)]
    assert sum(any(f" · {title} · " in label for title in ("x position", "y position", "scale", "shape", "rotation"))
               for label in named) >= 3

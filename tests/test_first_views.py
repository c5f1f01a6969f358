"""What a newcomer meets first (issue 24): the Latent sliders' introduction, the first latent point a bundled demo
ships, the Latent map opening on a shipped neighbour embedding without computing one, the hover thumbnail alone
on the map, and the bundled example sweep, read-only, on the Sweep page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from explorer.demos import first_views
from tests.waiting import HANG_S
from training.analysis import map_cache

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
INTRO = "Each slider is one coordinate of the latent code z"


def open_app(tmp_path: Path, run_path: Path | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["runs_root"] = str(tmp_path / "runs")  # an empty runs folder: only the bundled models
    if run_path is not None:
        at.session_state["run_path"] = str(run_path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def test_the_introduction_shows_until_closed_and_stays_closed_for_the_session(tmp_path):
    at = open_app(tmp_path)
    assert INTRO in infos(at) and "μ̃(z) (E5, on the Theory page)" in infos(at) and "(E4)" in infos(at)
    at.button(key="sliders_intro_close").click().run()
    assert not at.exception and INTRO not in infos(at)
    at.switch_page("views/theory.py").run()
    at.switch_page("views/sliders.py").run()
    assert INTRO not in infos(at)  # remembered: not shown again in this session


def test_the_default_model_starts_at_its_shipped_typical_three(tmp_path):
    at = open_app(tmp_path)
    view = json.loads((DEMOS / "mnist5k-z16" / "first_view.json").read_text())
    assert (view["test_index"], view["label"]) == (730, "3")
    z = [at.slider(key=f"z_{i}").value for i in range(16)]
    assert z == pytest.approx(np.clip(np.round(np.asarray(view["z"]) / 0.05) * 0.05, -4, 4))
    assert "μ(x) of test image 730, a typical 3" in " ".join(c.value for c in at.caption)


def test_the_shipped_first_view_follows_its_documented_rule_and_its_weights():
    from training.analysis import latent
    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    run = load_run(DEMOS / "mnist5k-z16")
    data = load_dataset("mnist5k", image_size=28, channels=1, seed=0)
    x = test_images(run.config, data)
    index, mu = first_views.clearest_test_image(run.model, x, data.y_test.numpy(), data.label_names)
    view = first_views.read(DEMOS / "mnist5k-z16", first_views.weights_sha256(DEMOS / "mnist5k-z16"))
    assert view is not None and view["test_index"] == index == 730
    assert np.allclose(view["z"], latent.encode_dataset(run.model, x[730:731])[0], atol=1e-3)
    assert first_views.read(DEMOS / "mnist5k-z16", "0" * 64) is None  # other weights: not theirs


def test_the_map_of_a_shipped_embedding_opens_on_it_without_computing(tmp_path, monkeypatch):
    from training.analysis import embedding, latent

    def refuse(*args, **kwargs):
        raise AssertionError("a neighbour embedding was computed")

    monkeypatch.setattr(embedding, "umap", refuse)
    monkeypatch.setattr(embedding, "tsne", refuse)
    monkeypatch.setattr(latent, "neighbour_embedding", refuse)
    monkeypatch.setattr(map_cache, "folder", lambda: tmp_path / "empty-cache")  # nothing cached by earlier runs
    at = open_app(tmp_path, DEMOS / "mnist5k-z16")
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="map_method").value == "umap"
    at.radio(key="map_method").set_value("tsne").run()  # the other shipped one: instant too
    assert not at.exception, [e.value for e in at.exception]
    written = sorted(p.name for p in (tmp_path / "empty-cache").glob("*"))  # the test images' mu may be kept there
    assert all(name.startswith("mu-") for name in written), written  # no embedding: read from the demo's folder


def test_a_two_dimensional_model_still_opens_on_its_own_plane(tmp_path):
    at = open_app(tmp_path, DEMOS / "mnist5k-z2")
    at.switch_page("views/latent_map.py").run()
    assert at.radio(key="map_method").value == "dims"


def test_shipped_embeddings_are_read_by_weights_and_size_and_come_before_computing(tmp_path):
    coords = np.arange(20, dtype=np.float32).reshape(10, 2)
    map_cache.ship(tmp_path, "abc", "umap", 0, 30.0, coords)
    assert np.array_equal(map_cache.shipped(tmp_path, "abc", 10, "umap", 0, 30.0), coords)
    assert map_cache.shipped(tmp_path, "abd", 10, "umap", 0, 30.0) is None  # other weights
    assert map_cache.shipped(tmp_path, "abc", 10, "tsne", 0, 30.0) is None
    mu = np.zeros((10, 3), np.float32)
    got, hit = map_cache.cached(mu, "umap", 0, 30.0, lambda: pytest.fail("computed"), shipped_with=(tmp_path, "abc"))
    assert hit and np.array_equal(got, coords)


def test_the_thumbnail_replaces_plotlys_hover_label_only_on_the_test_image_dots():
    from explorer.widgets import map_thumbs

    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], customdata=[0, 1], mode="markers",
                                hovertemplate="index %{customdata}<extra></extra>"),
                     go.Scatter(x=[0, 1], y=[1, 0], mode="lines", hovertemplate="prior<extra></extra>")])
    map_thumbs.quiet_hover(fig, 2)
    assert fig.data[0].hoverinfo == "none" and fig.data[0].hovertemplate is None  # events still fire, no label
    assert fig.data[1].hovertemplate == "prior<extra></extra>"  # no thumbnail there: its label stays


def test_the_bundled_example_sweep_is_listed_and_drawn_and_never_written(tmp_path):
    bundled = DEMOS / "sweeps"
    before = {p: p.stat().st_mtime_ns for p in bundled.rglob("*")}
    at = open_app(tmp_path)
    at.switch_page("views/sweep.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="sweep_pick").value == "example:shapes-beta"
    assert "bundled example, read-only" in " ".join(c.value for c in at.caption)
    assert "Meanwhile, here is the bundled example." in infos(at)
    assert len(at.get("plotly_chart")) == 2  # rate and distortion, MIG against beta
    assert at.get_by_key("sweep_traversals") is not None
    markdown = " ".join(m.value for m in at.markdown)
    assert all(f"β = {b} · `shapes-beta-beta{b}`" in markdown for b in (1, 4, 16))
    assert {p: p.stat().st_mtime_ns for p in bundled.rglob("*")} == before
    assert sum(p.stat().st_size for p in bundled.rglob("*") if p.is_file()) < 500_000  # small enough to ship

"""Directions in the app (issue 27): the Directions page (two groups, their figures, an analogy, the principal
directions as sliders), the move-along control and direction rows on Latent sliders, and the link's dir= and t=."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from training.analysis import directions
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"


def open_page(page: str, **link) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMOS / "mnist5k-z16")
    for key, value in link.items():
        at.query_params[key] = value
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def native(mnist16):
    """The direction label:1 -> label:7 of the bundled model, found by the library without the app."""
    run, data, x, mu = mnist16
    groups = directions.Groups.of(data, len(x))
    return run, mu, directions.between(mu, groups.read("label:1"), groups.read("label:7"))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_directions_page_shows_what_the_link_names_with_the_library_figures(native):
    _run, _mu, found = native
    at = open_page("views/directions.py", dir="label:1>label:7")
    shown = metrics(at)
    assert shown["Images"] == f"{found.from_count} → {found.to_count}"
    assert shown["Length |d|"] == f"{found.length:.2f}"
    assert shown["Separation"] == f"{found.separation:.2f} σ"
    assert shown["Accuracy"] == f"{100 * found.accuracy:.1f}%"
    assert at.query_params["dir"] == "label:1>label:7"
    assert at.get_by_key("dir_analogy") is not None  # the analogy's strip
    pcs = [s for s in at.slider if s.key and s.key.startswith("dir_pc_")]
    assert len(pcs) == 8 and all(s.value == 0.0 for s in pcs) and "% of variance" in pcs[0].label


def test_choosing_other_groups_on_the_page_changes_the_direction_and_the_link():
    at = open_page("views/directions.py", dir="label:1>label:7")
    at.selectbox(key="directions_b_label").set_value(0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["dir"] == "label:1>label:0"
    assert metrics(at)["Images"].startswith("100 → ")
    at.selectbox(key="directions_b_label").set_value(1).run()  # the same group twice: one sentence, no figures
    assert any("same test images" in e.value for e in at.error) and not at.metric


@pytest.mark.parametrize("value, said", [
    ("label:1>label:1", "same test images"),
    ("label:42>label:7", "holds no test images"),
    ("scale:0..1>label:7", "names a factor"),
    ("label:1", "is not written FROM>TO"),
])
def test_a_link_direction_that_cannot_be_used_is_one_sentence_and_not_taken(value, said):
    at = open_page("views/directions.py", dir=value)
    assert [w.value for w in at.warning if said in w.value], [w.value for w in at.warning]
    assert "dir" not in at.query_params  # not taken, and no direction of the page's own in its place
    assert at.button(key="directions_use") is not None  # the visitor chooses one


def test_latent_sliders_decode_z_plus_t_d_and_make_it_the_sliders_z(native):
    run, _mu, found = native
    at = open_page("views/sliders.py", dir="label:1>label:7", t="1.5")
    move = at.slider(key="sliders_move_t")
    assert move.value == 1.5 and move.label == "Move along 1 → 7"  # the form's words; the link keeps label:1
    z = np.array([at.slider(key=f"z_{i}").value for i in range(16)])
    shown = at.get_by_key("decoded")
    assert any("z + t·d" in c.value for c in at.caption)
    move.set_value(0.0).run()
    assert "t" not in at.query_params  # t = 0 is not written
    move = at.slider(key="sliders_move_t").set_value(1.0)
    at.run()
    at.button(key="sliders_move_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    moved = np.array([at.slider(key=f"z_{i}").value for i in range(16)])
    expected = np.clip(np.round((z + found.direction) / 0.05) * 0.05, -4, 4)
    np.testing.assert_allclose(moved, expected, atol=1e-6)
    assert at.slider(key="sliders_move_t").value == 0.0
    assert shown is not None


def test_the_traversal_shows_rows_along_the_direction_and_the_principal_directions():
    at = open_page("views/sliders.py", dir="label:1>label:7")
    at.selectbox(key="traversal_dims").set_value("along").run()
    grid = at.get_by_key("traversal_grid")
    html = " ".join(getattr(node, "body", "") or "" for node in grid)
    assert "1 → 7" in html and html.count('<th class="d"') == 1
    at.selectbox(key="traversal_dims").set_value("principal").run()
    html = " ".join(getattr(node, "body", "") or "" for node in at.get_by_key("traversal_grid"))
    assert html.count('<th class="d"') == 8 and "direction 8 · " in html


def test_without_a_direction_the_sliders_page_stays_without_torch_work_and_links_to_directions():
    at = open_page("views/sliders.py")
    assert not [s for s in at.slider if s.key == "sliders_move_t"]
    assert "dir" not in at.query_params


def test_onnx_and_adapter_models_get_the_directions_page_too(tmp_path, monkeypatch):
    """The same page on a model from elsewhere: an ONNX pair exported from the 2-D demo (its figures equal the
    native model's), and one's own model code (tests/own_model_example.py, the 8x8 digits)."""
    import sys

    from training.cli import main
    from training.models import adapter

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    exported = tmp_path / "runs" / "exported"
    assert main(["export", str(DEMOS / "mnist5k-z2"), "--out", str(exported)]) == 0
    shown = {}
    for path in (DEMOS / "mnist5k-z2", exported):
        at = AppTest.from_file(str(APP), default_timeout=HANG_S)
        at.session_state["run_path"] = str(path)
        at.query_params["dir"] = "label:1>label:7"
        at.switch_page("views/directions.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown[path.name] = metrics(at)
        assert len([s for s in at.slider if s.key and s.key.startswith("dir_pc_")]) == 2  # a 2-D model: the plane
    assert shown["exported"] == shown["mnist5k-z2"] and shown["exported"]["Images"] == "100 → 100"

    monkeypatch.setenv(adapter.ENV, "tests.own_model_example:make")
    for name in [m for m in sys.modules if m.startswith("explorer")]:
        monkeypatch.delitem(sys.modules, name)  # the app reads its command line when it starts
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["dir"] = "label:0>label:1"
    at.switch_page("views/directions.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert metrics(at)["Images"].count("→") == 1 and not at.warning


def test_a_selection_from_the_latent_map_is_a_group_of_the_direction():
    at = open_page("views/latent_map.py", select="label:3")
    at.button(key="map_sel_direction").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="directions_a_kind").value == "selection"
    assert any("selected on the Latent map" in c.value for c in at.caption)
    assert at.query_params["dir"].startswith("label:3>")  # the selection's own spec
    assert metrics(at)["Images"].startswith("100 → ")


def test_forgetting_a_direction_leaves_none_until_the_visitor_chooses_again():
    at = open_page("views/directions.py", dir="label:1>label:7")
    next(b for b in at.button if b.label == "Forget this direction").click().run()
    assert "dir" not in at.query_params and not at.metric
    at.button(key="directions_use").click().run()  # "Find this direction"
    assert at.query_params["dir"] == "label:1>label:7" and metrics(at)["Images"] == "100 → 100"


def test_an_emptied_or_mistyped_index_group_shows_no_old_figures():
    at = open_page("views/directions.py", dir="label:1>label:7")
    at.selectbox(key="directions_a_kind").set_value("indices").run()
    at.text_input(key="directions_a_indices").input("3 5;9").run()  # spaces and semicolons separate too
    assert at.query_params["dir"] == "3,5,9>label:7" and metrics(at)["Images"] == "3 → 100"
    at.text_input(key="directions_a_indices").input("").run()
    assert not at.metric and "dir" not in at.query_params
    at.text_input(key="directions_a_indices").input("3-9").run()
    assert not at.metric and any("separated by commas" in c.value for c in at.caption)


def test_moving_along_starts_at_group_as_mean_and_the_map_opens_on_the_axis(native):
    _run, mu, found = native
    at = open_page("views/directions.py", dir="label:1>label:7")
    next(b for b in at.button if b.label == "Move along it in Latent sliders").click().run()
    assert not at.exception, [e.value for e in at.exception]
    z = np.array([at.slider(key=f"z_{i}").value for i in range(16)])
    from training.data import load_dataset  # the ones' mean code, found without the app
    ones = np.asarray(load_dataset("mnist5k").y_test[:len(mu)]) == 1
    np.testing.assert_allclose(z, np.clip(np.round(mu[ones].mean(0) / 0.05) * 0.05, -4, 4), atol=1e-6)
    assert any("mean code of group A (1)" in c.value for c in at.caption)

    fresh = open_page("views/directions.py", dir="label:1>label:7")  # the map not yet visited in this session
    next(b for b in fresh.button if b.label == "Make it the Latent map's x axis").click().run()
    assert not fresh.exception, [e.value for e in fresh.exception]
    assert fresh.query_params["proj"] == "axis" and fresh.query_params["axis"] == "label:1>label:7"


def test_a_link_t_outside_the_range_is_said_and_clipped():
    at = open_page("views/sliders.py", dir="label:1>label:7", t="99")
    assert at.slider(key="sliders_move_t").value == 2.0
    assert any("outside −2 to 2" in w.value for w in at.warning)

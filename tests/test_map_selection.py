"""Selections on the Latent map: a box or lasso event read back to test indices, a link's ``select=``, the
selection's CSV against the page's own encodings, and the link written for a selection."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import DEMOS as BUNDLED_DEMOS
from explorer.widgets import map_selection, selection_panel
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
DEMO = "mnist5k-z16"


@pytest.fixture(scope="module")
def encoded():
    """The demo's test images, labels and mu(x), encoded here as the page encodes them."""
    from explorer.state.shared import dataset_for
    from training.analysis import latent
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    run = load_run(BUNDLED_DEMOS / DEMO)
    c, h, _w = run.config.model.image_shape
    data = dataset_for(run.config.train.dataset, c, h, run.config.train.seed)
    x = test_images(run.config, data)
    return data.y_test.numpy().astype(int), latent.encode_dataset(run.model, x)


def open_map(select: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["model"] = DEMO
    if select is not None:
        at.query_params["select"] = select
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def selected(at: AppTest) -> np.ndarray | None:
    kept = at.session_state[map_selection.KEY] if map_selection.KEY in at.session_state else None
    return None if kept is None else np.asarray(kept["indices"])


def test_a_box_or_lasso_event_gives_the_test_indices_of_its_points():
    # the shape st.plotly_chart(on_select="rerun") returns: points of two label traces (customdata a number, or a
    # one-element list), one point of the manifold overlay (no customdata), and the lasso's outline
    event = {"selection": {
        "points": [{"curve_number": 0, "point_number": 3, "point_index": 3, "x": 0.1, "y": 0.2, "customdata": 42},
                   {"curve_number": 1, "point_number": 0, "point_index": 0, "x": 0.3, "y": 0.1, "customdata": [17]},
                   {"curve_number": 1, "point_number": 5, "point_index": 5, "x": 0.2, "y": 0.0, "customdata": 99.0},
                   {"curve_number": 2, "point_number": 0, "point_index": 0, "x": 0.0, "y": 0.0},
                   {"curve_number": 0, "point_number": 3, "point_index": 3, "x": 0.1, "y": 0.2, "customdata": 42},
                   {"curve_number": 0, "point_number": 9, "point_index": 9, "x": 0.1, "y": 0.2, "customdata": 5000}],
        "point_indices": [3, 0, 5, 0, 3, 9],
        "box": [],
        "lasso": [{"xref": "x", "yref": "y", "x": [-1.0, 1.0, 1.0], "y": [-1.0, -1.0, 1.0]}],
    }}
    assert map_selection.event_indices(event, 1000).tolist() == [17, 42, 99]  # sorted, once each, below N only
    assert map_selection.event_indices(event["selection"], 1000).tolist() == [17, 42, 99]
    assert map_selection.event_indices({"selection": {"points": [], "point_indices": [], "box": [], "lasso": []}},
                                       1000).tolist() == []
    assert map_selection.event_indices(None, 1000).tolist() == []


def test_a_link_value_is_read_as_a_label_or_an_index_list():
    labels = np.array([0, 7, 7, 1, 7])
    indices, link = map_selection.parse("label:7", labels, 10, 5)
    assert indices.tolist() == [1, 2, 4] and link == "label:7"
    indices, link = map_selection.parse("4,0,4", labels, 10, 5)
    assert indices.tolist() == [0, 4] and link == "0,4"
    for bad in ("label:99", "label:8", "label:x", "abc", "1,5", "", "1,,2", "-1", "label:"):
        assert map_selection.parse(bad, labels, 10, 5) is None, bad
    assert map_selection.parse("label:0", None, 0, 5) is None  # no labels
    factors, names = np.array([[0.1, 2.0], [0.5, 1.0], [0.9, 0.0], [0.3, 1.0], [0.6, 0.5]]), ["pos_x", "scale"]
    indices, link = map_selection.parse("pos_x:0.2..0.6", labels, 10, 5, factors, names)  # a factor's range
    assert indices.tolist() == [1, 3, 4] and link == "pos_x:0.2..0.6"
    for bad in ("colour:0..1", "pos_x:0.6..0.2", "pos_x:2..3"):
        assert map_selection.parse(bad, labels, 10, 5, factors, names) is None, bad


def test_a_csv_row_per_selected_point_with_its_label_and_mu(encoded):
    labels, mu = encoded
    csv_text = selection_panel.selection_csv(np.array([99, 17, 42]), labels, mu)
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert rows[0] == ["index", "label"] + [f"mu_{d}" for d in range(mu.shape[1])]
    assert [int(r[0]) for r in rows[1:]] == [17, 42, 99]  # index order
    assert [int(r[1]) for r in rows[1:]] == labels[[17, 42, 99]].tolist()
    assert np.array_equal(np.array([[float(v) for v in r[2:]] for r in rows[1:]], np.float32), mu[[17, 42, 99]])


def test_a_links_label_selects_exactly_that_class_and_its_csv_matches_the_page(encoded):
    labels, mu = encoded
    at = open_map("label:7")
    assert selected(at).tolist() == np.flatnonzero(labels == 7).tolist()
    assert at.query_params["select"] == ["label:7"] or at.query_params["select"] == "label:7"  # kept in the link
    assert f"**{int((labels == 7).sum())}** test images selected" in " ".join(m.value for m in at.markdown)
    kept = at.session_state[map_selection.KEY]
    page_mu = np.asarray(mu)  # the page's encodings are these (the same model, images and encoder)
    rows = list(csv.reader(io.StringIO(selection_panel.selection_csv(kept["indices"], labels, page_mu))))[1:]
    assert [int(r[0]) for r in rows] == np.flatnonzero(labels == 7).tolist()
    assert {int(r[1]) for r in rows} == {7}
    assert not at.warning


def test_a_links_index_list_selects_those_images_and_a_click_still_picks_one():
    at = open_map("17,42,99")
    assert selected(at).tolist() == [17, 42, 99]
    at.number_input(key="map_find").set_value(5).run()  # the picked point beside the selection, as before
    assert not at.exception, [e.value for e in at.exception]
    assert "Nearest in z (8):" in [c.value for c in at.caption]
    assert selected(at).tolist() == [17, 42, 99]
    at.button(key="map_sel_clear").click().run()
    assert selected(at) is None and "select" not in at.query_params


@pytest.mark.parametrize("value", ["label:99", "abc", "17,1000"])
def test_a_link_selection_that_does_not_fit_is_one_sentence_and_no_selection(value):
    at = open_map(value)
    assert selected(at) is None
    (warning,) = at.warning
    assert warning.value.startswith(f"The link's selection {value} does not fit this model") and \
        warning.value.count(". ") == 0 and warning.value.endswith("nothing is selected.")
    assert "select" not in at.query_params


def test_a_selection_by_label_is_written_into_the_link_and_a_long_one_is_said(encoded):
    labels, _mu = encoded
    at = open_map()
    assert selected(at) is None
    at.selectbox(key="map_sel_label").set_value(3).run()
    at.button(key="map_sel_by_label").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert selected(at).tolist() == np.flatnonzero(labels == 3).tolist()
    assert str(at.query_params["select"]).strip("[]'") == "label:3"
    at.session_state[map_selection.KEY] = {"path": str(BUNDLED_DEMOS / DEMO), "indices": np.arange(300),
                                           "link": None, "how": ("drawn on the map", {})}  # as a large lasso leaves it
    at.run()
    assert "select" not in at.query_params
    assert any("The link does not carry this selection: 300 points" in c.value for c in at.caption)
    at.session_state[map_selection.KEY] = {"path": str(BUNDLED_DEMOS / DEMO), "indices": np.array([3, 8]),
                                           "link": "3,8", "how": ("drawn on the map", {})}
    at.run()
    assert str(at.query_params["select"]).strip("[]'") == "3,8"


def test_a_factors_range_selects_the_shapes_inside_it_and_label_counts_by_shape(tmp_path):
    import torch

    from training.core.config import RunConfig
    from training.data.shapes import load_shapes
    from training.runs.checkpoint import write_views
    from training.vae.model import VAE

    torch.manual_seed(0)
    config = RunConfig(model={"hidden": (16,), "image_shape": (1, 16, 16), "latent_dim": 3},
                       train={"epochs": 1, "dataset": "shapes"})
    (tmp_path / "shapes").mkdir()
    write_views(tmp_path / "shapes", config, VAE(config.model).eval(), 1, [])
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(tmp_path / "shapes")
    at.session_state["runs_root"] = str(tmp_path)
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="map_sel_factor").set_value("scale").run()
    at.slider(key="map_sel_range_1").set_value((0.6, 0.8)).run()
    at.button(key="map_sel_by_factor").click().run()
    assert not at.exception, [e.value for e in at.exception]
    scale = load_shapes(16, config.train.seed).y_test.numpy()[:, 1]
    assert selected(at).tolist() == np.flatnonzero((scale >= 0.6) & (scale <= 0.8)).tolist()
    assert "(scale from 0.60 to 0.80)" in " ".join(m.value for m in at.markdown)
    link = at.session_state["map_selection"]["link"]  # the range itself in the link, read back to the same images
    assert link == "scale:0.6..0.8"
    labels, factors = map_selection.class_labels(load_shapes(16, config.train.seed)), \
        load_shapes(16, config.train.seed).y_test.numpy()
    again, _ = map_selection.parse(link, labels, 3, len(scale), factors, ["shape", "scale", "rotation", "pos_x", "pos_y"])
    assert again.tolist() == selected(at).tolist()
    (counts,) = at.dataframe
    assert set(counts.value.iloc[:, 0]) <= {"square", "ellipse", "heart"}
    assert counts.value.iloc[:, 1].sum() == len(selected(at))

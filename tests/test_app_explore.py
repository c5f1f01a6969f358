"""The exploration pages, run headless with Streamlit's AppTest on both bundled demos."""

import base64
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import DEMOS as BUNDLED_DEMOS
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
DEMOS = ["mnist5k-z2", "mnist5k-z16"]
PAGES = {
    "views/sliders.py": "Latent sliders",
    "views/latent_map.py": "Latent map",
    "views/your_image.py": "Your image",
    "views/balance.py": "Balance",
    "views/interpolate.py": "Interpolate",
    "views/samples.py": "Samples",
    "views/theory.py": "Theory",
}


def open_app(demo: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(BUNDLED_DEMOS / demo)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def decoded_image_url(at: AppTest) -> str:
    """The media URL of the image in the ``decoded`` container: it names the PNG's content."""
    block = at.get_by_key("decoded")
    imgs = [node for node in block if getattr(node, "type", None) == "image"]
    assert len(imgs) == 1
    return imgs[0].value[0]


def images_on_page(at: AppTest) -> list[str]:
    return [node.value[0] for node in at.main if getattr(node, "type", None) == "image"]


def slider_values(at: AppTest, z_dim: int) -> list[float]:
    return [at.slider(key=f"z_{i}").value for i in range(z_dim)]


def landing_z(demo: str) -> list[float]:
    """Where a bundled demo's latent point starts: the first view it ships (explorer/demos/first_views.py: mu(x) of
    a typical, legible test image), on the slider grid."""
    import numpy as np

    z = np.asarray(json.loads((BUNDLED_DEMOS / demo / "first_view.json").read_text())["z"])
    return [float(round(v, 10)) for v in np.clip(np.round(z / 0.05) * 0.05, -4, 4)]


@pytest.mark.parametrize("demo", DEMOS)
def test_every_exploration_page_runs(demo):
    at = open_app(demo)
    for page, title in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title[0].value == title, page


@pytest.mark.parametrize("demo, z_dim", [("mnist5k-z2", 2), ("mnist5k-z16", 16)])
def test_sliders_drive_the_decoded_image(demo, z_dim):
    at = open_app(demo)
    at.switch_page("views/sliders.py").run()
    assert len(at.slider) >= z_dim  # z_0..z_{Z-1}, plus the traversal's steps slider
    start = landing_z(demo)
    assert slider_values(at, z_dim) == pytest.approx(start)  # the first look: a crisp figure, not z = 0
    assert any(v != 0.0 for v in start)
    assert "a typical " in " ".join(c.value for c in at.caption)
    before = decoded_image_url(at)

    at.slider(key="z_0").set_value(start[0] + 2.0 if start[0] < 2 else start[0] - 2.0).run()
    assert not at.exception
    assert at.slider(key="z_0").value != start[0]
    after = decoded_image_url(at)
    assert after != before

    at.slider(key="z_0").set_value(start[0]).run()
    assert decoded_image_url(at) == before  # the same z draws the same image


def test_sliders_buttons_set_the_sliders():
    at = open_app("mnist5k-z16")
    at.switch_page("views/sliders.py").run()
    button = {b.label: b for b in at.button}

    button["Sample from the prior"].click().run()
    sampled = slider_values(at, 16)
    assert sum(v != 0.0 for v in sampled) >= 12  # a draw from N(0, I), rounded to the slider step
    assert all(-4.0 <= v <= 4.0 for v in sampled)

    {b.label: b for b in at.button}["Reset to zero"].click().run()
    assert slider_values(at, 16) == [0.0] * 16

    at.number_input(key="sliders_image_index").set_value(5).run()
    {b.label: b for b in at.button}["Encode it"].click().run()
    assert not at.exception
    encoded = slider_values(at, 16)
    assert any(v != 0.0 for v in encoded)
    assert "test image 5" in " ".join(c.value for c in at.caption)


def test_slider_labels_follow_kl_order_and_mark_inactive():
    at = open_app("mnist5k-z16")
    at.switch_page("views/sliders.py").run()
    labels = [s.label for s in at.slider if s.key and s.key.startswith("z_")]
    kls = [float(label.split("KL ")[1].split(" ")[0]) for label in labels]
    assert kls == sorted(kls, reverse=True)  # largest KL first
    assert not any("unused" in label for label in labels)  # the z16 demo uses all 16 dimensions


def test_switching_models_resets_page_state():
    at = open_app("mnist5k-z16")
    at.switch_page("views/sliders.py").run()
    at.slider(key="z_1").set_value(1.5).run()
    at.selectbox(key="traversal_dims").set_value("z_12").run()
    at.session_state["run_path"] = str(BUNDLED_DEMOS / "mnist5k-z2")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert slider_values(at, 2) == pytest.approx(landing_z("mnist5k-z2"))  # a z of the other model means nothing here
    assert at.selectbox(key="traversal_dims").value == "all"  # shown as "all (by KL)"

    at.session_state["run_path"] = str(BUNDLED_DEMOS / "mnist5k-z16")
    at.switch_page("views/latent_map.py").run()
    at.radio(key="map_method").set_value("dims").run()
    at.selectbox(key="map_dim_x").set_value(12).run()
    at.session_state["run_path"] = str(BUNDLED_DEMOS / "mnist5k-z2")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="map_method").value == "dims"  # the default for Z = 2
    assert (at.selectbox(key="map_dim_x").value, at.selectbox(key="map_dim_y").value) == (0, 1)


def test_a_point_picked_on_the_map_or_halfway_opens_in_the_sliders():
    import numpy as np

    from training.analysis import latent
    from training.data import load_dataset
    from training.models.open import load_run

    demo = BUNDLED_DEMOS / "mnist5k-z2"
    at = open_app("mnist5k-z2")
    at.session_state["map_selected"] = (str(demo), 7)  # as a click on test image 7 leaves it
    at.switch_page("views/latent_map.py").run()
    at.button(key="map_to_sliders").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Latent sliders"
    run = load_run(demo)
    x_test = load_dataset("mnist5k").x_test
    mu = latent.encode_dataset(run.model, x_test[7:8])[0]
    expected = np.clip(np.round(mu / 0.05) * 0.05, -4, 4)
    assert slider_values(at, 2) == pytest.approx(expected.tolist(), abs=1e-6)
    assert "test image 7, picked on the Latent map" in " ".join(c.value for c in at.caption)

    at.switch_page("views/interpolate.py").run()
    a, b = at.session_state["interp_a"], at.session_state["interp_b"]
    at.button(key="interp_to_sliders").click().run()
    assert at.title[0].value == "Latent sliders"
    both = latent.encode_dataset(run.model, x_test[[a, b]])
    halfway = np.clip(np.round((both[0] + both[1]) / 2 / 0.05) * 0.05, -4, 4)
    assert slider_values(at, 2) == pytest.approx(halfway.tolist(), abs=1e-6)


def test_latent_map_options_run():
    at = open_app("mnist5k-z16")
    at.switch_page("views/latent_map.py").run()
    at.radio(key="map_method").set_value("dims").run()
    at.toggle(key="map_density").set_value(True).run()
    at.toggle(key="map_grid_on_points").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("every other dimension at 0" in c.value for c in at.caption)


def test_interpolate_and_samples_controls():
    at = open_app("mnist5k-z2")
    at.switch_page("views/interpolate.py").run()
    {b.label: b for b in at.button}["Random pair"].click().run()
    assert not at.exception
    assert at.number_input(key="interp_a").value != at.number_input(key="interp_b").value

    at.switch_page("views/samples.py").run()
    seed = at.number_input(key="samples_seed").value
    first = images_on_page(at)[0]
    {b.label: b for b in at.button}["New samples"].click().run()
    assert not at.exception
    assert at.number_input(key="samples_seed").value != seed  # one chance in a million to collide
    assert images_on_page(at)[0] != first


# ---------------------------------------------------------------- other likelihoods, edge cases

def _record(epoch: int, kl: list[float], recon: float, active: int) -> dict:
    total = recon + sum(kl)
    return {"epoch": epoch, "beta": 1.0, "train_recon": recon, "train_kl": sum(kl), "train_loss": total,
            "test_recon": recon, "test_kl": sum(kl), "test_loss": total, "test_neg_elbo": total,
            "active_units": active, "kl_per_dim": kl, "seconds": 0.1, "samples_per_second": 1000.0}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Untrained 8x8 digits runs written as run folders: a collapsed 1-D Gaussian, a learned-sigma~ one."""
    import torch

    from training.core.config import RunConfig
    from training.runs.checkpoint import write_views
    from training.vae.model import VAE

    root = tmp_path_factory.mktemp("runs")
    digits = {"image_shape": (1, 8, 8)}, {"dataset": "digits"}
    shapes = {"image_shape": (1, 16, 16)}, {"dataset": "shapes"}
    specs = {  # data, model, train, kl_per_dim, active units
        "collapsed": (digits, {"latent_dim": 1, "likelihood": "gaussian", "sigma": 1.0}, {"beta": 4.0}, [0.003], 0),
        "learned": (digits, {"latent_dim": 3, "likelihood": "gaussian-learned"}, {}, [1.0, 0.5, 0.0], 2),
        "shapes": (shapes, {"latent_dim": 4}, {}, [2.0, 1.0, 0.5, 0.2], 4),
    }
    for name, ((data_model, data_train), model, train, kl, active) in specs.items():
        torch.manual_seed(0)
        config = RunConfig(model={"hidden": (16,), **data_model, **model},
                           train={"epochs": 2, **data_train, **train})
        history = [_record(1, [2 * k for k in kl], 60.0, active), _record(2, kl, 55.0, active)]
        vae = VAE(config.model).eval()
        if active:  # spread mu(x) so that the test set's Var_x(mu_k) marks units active
            with torch.no_grad():
                vae.encoder[-1].weight.mul_(100.0)
        (root / name).mkdir()
        write_views(root / name, config, vae, 2, history)
    return root


@pytest.mark.parametrize("name", ["collapsed", "learned", "shapes"])
def test_pages_run_for_other_decoders_and_data(tiny_runs, name):
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(tiny_runs / name)
    at.session_state["runs_root"] = str(tiny_runs)
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page == "views/balance.py":
            warnings = " ".join(w.value for w in at.warning)
            assert ("collapsed" in warnings) == (name == "collapsed")
            if name == "collapsed":
                assert "lower β" in warnings and "smaller σ̃" in warnings
        if page == "views/theory.py":
            metrics = {m.label: m.value for m in at.metric}
            if name == "collapsed":
                assert metrics["constants D/2 ln 2π + D ln σ̃"] == f"{64 * 0.5 * 1.8378770664093453:.2f}"
            elif name == "learned":
                assert "mean σ̃ over pixels" in metrics
        if page == "views/latent_map.py" and name == "shapes":  # coloured by a generative factor
            assert at.selectbox(key="map_color").options == ["shape", "scale", "rotation", "x position", "y position"]
            import json

            spec = json.loads(at.get("plotly_chart")[0].proto.spec)  # the shape by its name: one trace each
            assert [t["name"] for t in spec["data"] if t.get("customdata")] == ["square", "ellipse", "heart"]
            at.selectbox(key="map_color").set_value("rotation").run()
            assert not at.exception, [e.value for e in at.exception]
            spec = json.loads(at.get("plotly_chart")[0].proto.spec)  # a continuous factor: one trace, a scale
            (points,) = [t for t in spec["data"] if t.get("customdata")]
            assert points["marker"]["showscale"] is True


def test_a_model_with_a_smaller_test_set_keeps_the_pages_indices_inside_it(tmp_path):
    """Interpolate's pair and Latent sliders' test image were picked on MNIST (1,000 test images); the
    8x8 digits model chosen next has fewer: the indices are brought inside its test set, once."""
    import torch

    from training.core.config import RunConfig
    from training.data import load_dataset
    from training.runs.checkpoint import write_views
    from training.vae.model import VAE

    config = RunConfig(model={"image_shape": (1, 8, 8), "latent_dim": 2, "hidden": (16,)},
                       train={"dataset": "digits"})
    torch.manual_seed(0)
    write_views(tmp_path, config, VAE(config.model).eval(), 0, [])
    n_digits = len(load_dataset("digits").x_test)
    at = open_app("mnist5k-z2")
    at.switch_page("views/interpolate.py").run()  # the model is picked in the sidebar while the page shows
    at.number_input(key="interp_a").set_value(998).run()
    at.number_input(key="interp_b").set_value(999).run()
    at.session_state["run_path"] = str(tmp_path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert (at.session_state["interp_a"], at.session_state["interp_b"]) == (0, 1)

    at.session_state["run_path"] = str(BUNDLED_DEMOS / "mnist5k-z2")
    at.switch_page("views/sliders.py").run()
    at.session_state["sliders_image_index"] = 999
    at.run()
    at.session_state["run_path"] = str(tmp_path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["sliders_image_index"] == n_digits - 1


def test_the_map_finds_a_point_by_index_filters_labels_and_shows_its_neighbours():
    at = open_app("mnist5k-z16")
    at.switch_page("views/latent_map.py").run()
    at.number_input(key="map_find").set_value(17).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    assert "Nearest in z (8):" in captions  # the picked point's neighbours, shown as images
    assert "17" in str(at.query_params["point"])  # the link names the picked point
    at.multiselect(key="map_labels").set_value([3, 7]).run()
    assert not at.exception, [e.value for e in at.exception]
    (chart,) = [c for c in at.get("plotly_chart") if '"name":"3"' in c.proto.spec.replace(" ", "")]
    spec = chart.proto.spec.replace(" ", "")
    assert '"name":"7"' in spec and '"name":"4"' not in spec and '"name":"0"' not in spec


def array_length(values) -> int:
    """Length of a Plotly figure array: a list, or numpy's bytes as {"dtype", "bdata"} (Plotly >= 6)."""
    if isinstance(values, dict):
        import numpy as np

        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)


@pytest.mark.parametrize("method, title", [("tsne", "t-SNE 1"), pytest.param("umap", "UMAP 1", marks=pytest.mark.slow)])
def test_the_map_draws_neighbour_embeddings_of_every_test_image_and_keeps_them_on_disk(method, title, monkeypatch):
    import streamlit as st

    from training.analysis import latent, map_cache
    from training.data import load_dataset
    from training.models.open import load_run

    monkeypatch.setattr(map_cache, "shipped", lambda *args, **kwargs: None)  # as a model that ships none: computed
    st.cache_data.clear()  # no projection kept in memory from an earlier test
    at = open_app("mnist5k-z16")
    at.switch_page("views/latent_map.py").run()
    at.radio(key="map_method").set_value(method).run()
    assert not at.exception, [e.value for e in at.exception]
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert sum(array_length(t["x"]) for t in spec["data"] if t["type"] == "scattergl") == 1000  # all test images
    assert spec["layout"]["xaxis"]["title"]["text"] == title
    assert at.toggle(key="map_grid_on_points").disabled and at.slider(key="map_grid_n").disabled  # no inverse map
    mu = latent.encode_dataset(load_run(BUNDLED_DEMOS / "mnist5k-z16").model, load_dataset("mnist5k").x_test)
    kept = map_cache.load(map_cache.key(mu, method, 0, 30.0), 1000)  # kept on disk for the next visitor
    assert kept is not None and kept.shape == (1000, 2)


def test_latent_map_two_dims_are_always_two_different_dimensions():
    at = open_app("mnist5k-z16")
    at.switch_page("views/latent_map.py").run()
    at.radio(key="map_method").set_value("dims").run()
    assert 0 not in at.selectbox(key="map_dim_y").options and "z_0" not in at.selectbox(key="map_dim_y").options
    at.selectbox(key="map_dim_x").set_value(1).run()  # the y axis showed z_1: it moves to another dimension
    assert not at.exception, [e.value for e in at.exception]
    x, y = at.selectbox(key="map_dim_x").value, at.selectbox(key="map_dim_y").value
    assert x == 1 and y != 1
    assert len(at.selectbox(key="map_dim_y").options) == 15


def traversal_html(at: AppTest) -> str:
    grids = [h.proto.body for h in at.get("html") if 'class="traversal"' in h.proto.body]
    assert len(grids) == 1
    return grids[0]


def test_the_traversal_grid_is_labelled_and_follows_the_sliders():
    import re

    at = open_app("mnist5k-z16")
    at.switch_page("views/sliders.py").run()
    assert "Redraw" not in [b.label for b in at.button]
    grid = traversal_html(at)
    rows = re.findall(r'<th class="d" scope="row">([^<]*)</th>', grid)
    labels = [s.label for s in at.slider if s.key and s.key.startswith("z_")]
    assert rows == labels  # every row named like its slider: index and KL, in the same order
    assert re.findall(r'<th class="v"[^>]*>([^<]*)</th>', grid) == ["\u22123", "\u22122.25", "\u22121.5", "\u22120.75",
                                                                     "0", "+0.75", "+1.5", "+2.25", "+3"]
    at.slider(key="z_3").set_value(3.0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert traversal_html(at) != grid  # no Redraw: the fixed coordinates follow the slider at once

    at.slider(key="traversal_steps").set_value(5).run()
    assert len(re.findall(r'<th class="v"', traversal_html(at))) == 5
    at.selectbox(key="traversal_dims").set_value("z_3").run()
    assert re.findall(r'<th class="d" scope="row">([^<]*)</th>', traversal_html(at)) == [at.slider(key="z_3").label]


def test_a_links_z_wins_over_the_landing_point():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["model"] = "mnist5k-z2"
    at.query_params["z"] = "0.5,-1.25"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert slider_values(at, 2) == [0.5, -1.25]
    assert "the link." in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("page, param", [("views/latent_map.py", "point"), ("views/interpolate.py", "a"),
                                         ("views/interpolate.py", "b")])
def test_a_links_number_that_is_not_ascii_digits_is_ignored(page, param):
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["model"] = "mnist5k-z2"
    at.query_params[param] = "\u00b2"  # '²': a digit to str.isdigit(), not to int()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]


def test_whole_numbers_are_ascii_digits_only():
    from training.core.numbers import whole_number

    assert [whole_number(t) for t in ("0", " 17 ", "007")] == [0, 17, 7]
    assert [whole_number(t) for t in (None, "", "-1", "1.5", "\u00b2", "\u0663", "1e3", "+2")] == [None] * 8

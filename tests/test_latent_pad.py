"""The latent_pad component (components v2; weights to base64 and back, z into the shared latent point) and its page."""

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.widgets import latent_pad as latent_pad_module
from explorer.widgets.latent_pad import FRONTEND, decode_array, encode_array, encode_decoder, payload_bytes
from explorer.state.latent_point import clip_round
from training.core.config import RunConfig
from training.models.open import load_decoder
from training.runs.checkpoint import write_views
from training.vae.array_decoder import ArrayDecoder, Layer
from training.vae.model import VAE
from explorer import DEMOS as BUNDLED_DEMOS
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
DEMO = BUNDLED_DEMOS / "mnist5k-z16"
FALLBACK = "cannot be decoded in the browser"


def test_frontend_is_hand_written_files_on_components_v2():
    html, js = (FRONTEND / "pad.html").read_text(), (FRONTEND / "pad.js").read_text()
    assert "http" not in html and "http" not in js  # no CDN
    assert "export default function" in js  # a components v2 module
    for call in ("setStateValue", "setTriggerValue", "parentElement"):
        assert call in js
    for v1 in ("postMessage", "streamlit:render", "setFrameHeight", "componentReady"):  # no hand-written protocol
        assert v1 not in js
    assert "--st-primary-color" in (FRONTEND / "style.css").read_text()  # the theme's variables
    assert "components.v1" not in Path(latent_pad_module.__file__).read_text()


def test_weights_round_trip_losslessly_through_base64_float32():
    decoder = load_decoder(DEMO)
    encoded = encode_decoder(decoder)
    assert encoded["image_shape"] == [1, 28, 28]
    assert len(encoded["layers"]) == len(decoder.layers)
    for sent, layer in zip(encoded["layers"], decoder.layers):
        assert sent["kind"] == "dense" and tuple(sent["w_shape"]) == layer.w.shape
        np.testing.assert_array_equal(decode_array(sent["w"], layer.w.shape), layer.w)
        np.testing.assert_array_equal(decode_array(sent["b"], layer.b.shape), layer.b)
    # special values survive bit for bit too
    odd = np.array([0.0, -0.0, 1e-45, -3.4e38, np.pi, 1 / 3], dtype=np.float32)
    assert decode_array(encode_array(odd), odd.shape).tobytes() == odd.tobytes()
    # the payload: 4 bytes per parameter, base64 = 4/3 of that
    assert payload_bytes(decoder) == pytest.approx(4 * decoder.parameter_count * 4 / 3, rel=1e-3)


def test_decoding_the_round_tripped_weights_equals_the_decoder(tmp_path):
    config = RunConfig(model={"image_shape": (1, 8, 8), "latent_dim": 3, "arch": "conv", "hidden": (4, 6)},
                       train={"dataset": "digits"})
    torch.manual_seed(0)
    write_views(tmp_path, config, VAE(config.model).eval(), 0, [])
    for decoder in (load_decoder(DEMO), load_decoder(tmp_path)):
        enc = encode_decoder(decoder)
        again = ArrayDecoder(decoder.arch, tuple(
            Layer(l["kind"], decode_array(l["w"], l["w_shape"]), decode_array(l["b"], (len(orig.b),)),
                  tuple(l["in_shape"]), tuple(l["out_shape"])) for l, orig in zip(enc["layers"], decoder.layers)),
            decoder.image_shape)
        z = np.random.default_rng(0).normal(size=(5, decoder.latent_dim)).astype(np.float32)
        np.testing.assert_array_equal(again.decode_mean(z), decoder.decode_mean(z))


def test_clip_round_is_the_sliders_rounding():
    assert clip_round([0.0, 0.024, 0.026, -1.2749, 3.99, 7.3, -9.0]) == [0.0, 0.0, 0.05, -1.25, 4.0, 4.0, -4.0]


def _point_script():
    import streamlit as st

    from explorer.state import latent_point

    st.session_state["before"] = latent_point.get("runs/x", 3)
    st.session_state["stored"] = latent_point.put("runs/x", [0.123, -5.0, 2.26], "the real-time sliders.")
    st.session_state["after"] = latent_point.get("runs/x", 3)
    latent_point.sync_sliders("runs/x", 3)
    st.session_state["source"] = latent_point.source("runs/x", 3)
    st.session_state["other_model"] = latent_point.get("runs/y", 3)


def test_the_latent_point_has_one_home_and_resets_for_another_model():
    at = AppTest.from_function(_point_script, default_timeout=HANG_S)
    at.session_state["latent_point"] = {"run": "runs/old", "z": [1.0, 1.0, 1.0], "source": ("x", {}), "version": 4}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    ss = at.session_state
    assert ss["before"] == [0.0, 0.0, 0.0]  # the stored z belongs to another model
    assert ss["stored"] == pytest.approx([0.1, -4.0, 2.25])  # rounded to the step, clipped to +-4
    assert ss["after"] == pytest.approx([0.1, -4.0, 2.25])
    assert [ss[f"z_{i}"] for i in range(3)] == pytest.approx([0.1, -4.0, 2.25])  # the sliders show it
    assert ss["source"] == "the real-time sliders."
    assert ss["other_model"] == [0.0, 0.0, 0.0]
    assert ss["latent_point"]["version"] > 4


def _open_scrub(run_path) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(run_path)
    at.switch_page("views/scrub.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_the_component_for_the_bundled_mlp_demo():
    at = _open_scrub(DEMO)
    assert at.title[0].value == "Real-time sliders"
    assert not any(FALLBACK in i.value for i in at.info)
    captions = " ".join(c.value for c in at.caption)
    assert "Last release: none yet" in captions


def test_page_starts_from_the_shared_latent_point():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMO)
    point = {"run": str(DEMO), "z": [0.5] * 16, "source": ("x", {}), "version": 1}
    at.session_state["latent_point"] = point
    at.switch_page("views/scrub.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["latent_point"] == point  # only a release changes it


def test_conv_models_get_the_component_too(tmp_path):
    config = RunConfig(model={"image_shape": (1, 8, 8), "latent_dim": 3, "arch": "conv", "hidden": (4,)},
                       train={"dataset": "digits"})
    torch.manual_seed(0)
    write_views(tmp_path, config, VAE(config.model).eval(), 0, [])
    assert [layer.kind for layer in load_decoder(tmp_path).layers] == ["dense", "deconv"]
    at = _open_scrub(tmp_path)
    assert not any(FALLBACK in i.value for i in at.info)


def test_only_well_formed_releases_of_the_shown_model_yield_a_z():
    from explorer.widgets.latent_pad import release_z

    assert release_z({"z": [0.5, -1], "model_id": "m"}, 2, "m") == [0.5, -1.0]
    assert release_z({"z": [0.5, -1], "model_id": "old"}, 2, "m") is None  # sliders of a model no longer shown
    for bad in (None, [0.1, 0.2], {"model_id": "m"}, {"z": [0.5], "model_id": "m"}, {"z": "0.5,1", "model_id": "m"},
                {"z": [0.5, float("nan")], "model_id": "m"}, {"z": [True, 1], "model_id": "m"}):
        assert release_z(bad, 2, "m") is None, bad


def test_oversized_decoders_are_not_sent_to_the_browser():
    from explorer.widgets.latent_pad import MAX_BROWSER_PARAMS, fits_in_browser

    def dense(n_out, n_in):
        return Layer("dense", np.zeros((n_out, n_in), np.float32), np.zeros(n_out, np.float32), (n_in,), (n_out,))

    assert fits_in_browser(ArrayDecoder("mlp", (dense(4, 1),), (1, 2, 2)))
    assert not fits_in_browser(ArrayDecoder("mlp", (dense(MAX_BROWSER_PARAMS, 1),), (1, 1, MAX_BROWSER_PARAMS)))


def _pad_data(at: AppTest) -> dict:
    """The ``data`` the page passed to the latent_pad component (its JSON, as the browser gets it)."""
    import json

    def walk(node):
        proto = getattr(node, "proto", None)
        if getattr(proto, "component_name", None) == "latent_pad":
            yield json.loads(proto.json)
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    (data,) = walk(at.main)
    return data


@pytest.mark.parametrize("owner", ["this model", "another model", None])
def test_the_pad_gets_the_posterior_of_the_visitors_input_of_this_model_only(owner):
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMO)
    if owner is not None:
        run, z_dim = (DEMO, 16) if owner == "this model" else (BUNDLED_DEMOS / "mnist5k-z2", 2)
        mu, sigma = [0.1 * k for k in range(z_dim)], [0.2 + 0.01 * k for k in range(z_dim)]
        at.session_state["your_input"] = {"run": str(run), "mu": mu, "sigma": sigma,
                                          "source": ("test image {index}", {"index": 17})}
    at.switch_page("views/scrub.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    data = _pad_data(at)
    assert data["model"] is not None and len(data["z0"]) == 16  # the rest as before: weights, z, keys
    if owner == "this model":
        assert data["posterior"] == {"mu": pytest.approx(mu), "sigma": pytest.approx(sigma), "source": "test image 17"}
        assert "{source}" in data["texts"]["posterior_marginal"] and "{i}" in data["texts"]["posterior_marginal"]
    else:
        assert data["posterior"] is None


def test_a_release_moving_along_a_direction_yields_t_clipped_to_the_grid():
    from explorer.widgets.latent_pad import release_t, release_z

    assert release_t({"z": [0.5, -1], "t": 1.5, "model_id": "m"}, "m") == 1.5
    assert release_t({"z": [0.5, -1], "t": -1.52, "model_id": "m"}, "m") == -1.5  # on the 0.05 grid
    assert release_t({"z": [0.5, -1], "t": 7, "model_id": "m"}, "m") == 2.0  # clipped to T_MAX
    assert release_t({"z": [0.5, -1], "t": -30.0, "model_id": "m"}, "m") == -2.0
    assert release_z({"z": [0.5, -1], "t": 1.5, "model_id": "m"}, 2, "m") == [0.5, -1.0]  # z is read as before
    for bad in ({"z": [0.5, -1], "model_id": "m"}, {"z": [0.5, -1], "t": float("nan"), "model_id": "m"},
                {"t": float("inf"), "model_id": "m"}, {"t": "1.5", "model_id": "m"}, {"t": True, "model_id": "m"},
                {"t": [1.5], "model_id": "m"}, {"t": 1.5, "model_id": "old"}, None, 1.5):
        assert release_t(bad, "m") is None, bad


def test_the_along_data_is_the_vector_its_name_and_t_on_the_grid():
    from explorer.state import direction
    from explorer.widgets.latent_pad import along_data

    assert along_data(None, 3) is None
    data = along_data({"vector": np.array([0.5, -1, 2], np.float32), "name": "label:1 → label:7", "t": 1.52}, 3)
    assert data == {"vector": [0.5, -1.0, 2.0], "name": "label:1 → label:7", "t": 1.5,
                    "min": direction.T_MIN, "max": direction.T_MAX, "step": direction.T_STEP}
    assert (data["min"], data["max"], data["step"]) == (-2, 2, 0.05)
    assert along_data({"vector": [0.5, -1, 2], "name": "x", "t": 9}, 3)["t"] == 2.0
    assert along_data({"vector": [0.5, -1], "name": "x", "t": 0}, 3) is None  # another model's length
    assert along_data({"vector": [0.5, float("nan"), 1], "name": "x", "t": 0}, 3) is None


def test_without_a_direction_the_page_sends_none_and_links_to_the_directions_page():
    at = _open_scrub(DEMO)
    data = _pad_data(at)
    assert data["along"] is None and data["model"] is not None  # the rest as before
    assert "Move along {name}" == data["texts"]["along"] and "{t}" in data["texts"]["along_readout"]
    (link,) = at.get("page_link")
    assert link.proto.label == "Choose a direction on the Directions page" and "directions" in link.proto.page
    assert "direction" not in at.session_state  # nothing chosen by opening the page


def _test_mu_and_labels():
    from training.analysis import latent
    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    run = load_run(DEMO)
    data = load_dataset("mnist5k")
    mu = latent.encode_dataset(run.model, test_images(run.config, data))
    return np.asarray(mu, np.float64), np.asarray(data.y_test)[:len(mu)]


def test_with_a_direction_the_pad_gets_its_vector_name_and_t():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMO)
    at.session_state["direction"] = {str(DEMO): ("label:1", "label:7")}
    at.session_state["direction_t"] = 1.5
    at.switch_page("views/scrub.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    along = _pad_data(at)["along"]
    mu, y = _test_mu_and_labels()
    expected = mu[y == 7].mean(axis=0) - mu[y == 1].mean(axis=0)  # mean mu(B) - mean mu(A), computed here
    assert along["name"] == "1 → 7" and along["t"] == 1.5
    np.testing.assert_allclose(along["vector"], expected, atol=1e-4)
    assert not at.error


def test_a_direction_that_names_nothing_here_is_one_sentence_and_no_t_slider():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMO)
    at.session_state["direction"] = {str(DEMO): ("label:1", "label:12")}
    at.switch_page("views/scrub.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "label:12" in at.error[0].value
    assert _pad_data(at)["along"] is None


def test_without_a_direction_the_page_loads_no_torch():
    """The direction is resolved (torch, the test encodings) only when one is chosen: the page stays light."""
    import subprocess
    import sys

    script = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
              f"at = AppTest.from_file({str(APP)!r}, default_timeout={HANG_S})\n"
              f"at.session_state['run_path'] = {str(DEMO)!r}\nat.switch_page('views/scrub.py')\nat.run()\n"
              "assert not at.exception, [e.value for e in at.exception]\n"
              "print('torch' in sys.modules, 'explorer.widgets.directions' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_S,
                         cwd=str(APP.parent.parent))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["False", "False"]

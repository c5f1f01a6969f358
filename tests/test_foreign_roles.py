"""Models from elsewhere read by role, not by name (issue 24, training/models/onnx_roles.py): three exports
made by code this library did not write (tests/foreign_exports.py) open, encode and decode as their own torch
modules do (transposes and sigmoid included), are scored by ``evaluate``, upload, decode in the browser's
decoder and open on every page; layouts that fit no role are one sentence each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from tests.foreign_exports import SIDE, Z, export_all
from tests.waiting import HANG_S
from training.cli import main
from training.core.errors import UserError
from training.models.onnx_roles import OnnxMeta, graph_roles
from training.models.onnx_runtime import check_upload
from training.models.open import load_decoder, load_run

APP = Path(__file__).resolve().parents[1] / "explorer" / "app.py"
NAMES = ["conv-vae", "keras-style", "logits"]
PAGES = ["views/sliders.py", "views/scrub.py", "views/latent_map.py", "views/balance.py", "views/interpolate.py",
         "views/samples.py", "views/theory.py", "views/models.py"]


@pytest.fixture(scope="session")
def foreign(tmp_path_factory):
    return export_all(tmp_path_factory.mktemp("foreign"))


@pytest.mark.parametrize("name", NAMES)
def test_it_opens_by_role_and_encodes_and_decodes_as_its_own_module(foreign, name):
    spec = foreign[name]
    run = load_run(spec["folder"])
    assert run.config.model.image_shape == (1, SIDE, SIDE) and run.config.model.latent_dim == Z
    assert (run.roles.layout, run.roles.decoder_output, run.roles.ignored) == \
        (spec["layout"], spec["decoder_output"], spec["ignored"])
    x, z = torch.rand(37, 1, SIDE, SIDE), torch.randn(300, Z) * 2  # 300: more than one chunk
    with torch.no_grad():
        for got, want in zip(run.model.encode(x), spec["encode"](x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
        np.testing.assert_allclose(run.model.decode_mean(z).numpy(), spec["decode_mean"](z).numpy(), atol=1e-5)
        if "logits" in spec:  # the loss reads the decoder's own logits, not logit(sigmoid(.)) of them
            np.testing.assert_allclose(run.model.decode(z).numpy(), spec["logits"](z).numpy(), atol=1e-5)
    run.model.close()


@pytest.mark.parametrize("name", NAMES)
def test_it_decodes_in_the_browser_decoder_as_its_own_module(foreign, name):
    spec = foreign[name]
    z = np.random.default_rng(1).standard_normal((9, Z)).astype(np.float32)
    with torch.no_grad():
        want = spec["decode_mean"](torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(load_decoder(spec["folder"]).decode_mean(z), want, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_evaluate_scores_it_and_an_upload_of_it_is_accepted(foreign, name, capsys):
    folder = foreign[name]["folder"]
    assert main(["evaluate", str(folder), "--dataset", "mnist5k", "--json", "--iw-samples", "4",
                 "--elbo-samples", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert np.isfinite(result["test_neg_elbo"]) and len(result["kl_per_dim"]) == Z
    files = check_upload((folder / "encoder.onnx").read_bytes(), (folder / "decoder.onnx").read_bytes(),
                         (folder / "model.json").read_bytes())
    meta = json.loads(files["model.json"])
    assert meta["decoder_output"] == foreign[name]["decoder_output"] and "sigma" not in meta


@pytest.mark.parametrize("name", NAMES)
def test_it_opens_on_every_page(foreign, name, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(foreign[name]["folder"].parent))
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(foreign[name]["folder"])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = " ".join(c.value for c in at.sidebar.caption)  # how its graphs were read, said beside the model
    assert ("channels last" in said) == (name == "keras-style"), said
    assert ("gives logits" in said) == (name == "logits"), said
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page == "views/scrub.py":  # each decoder is one the browser computes: the pad, not the note
            assert not [i for i in at.info if "ONNX" in i.value], [i.value for i in at.info]
        if page == "views/balance.py":
            assert any("without a training history" in i.value for i in at.info)
    at.switch_page("views/sliders.py").run()
    assert len([s for s in at.slider if s.key and s.key.startswith("z_")]) == Z


def test_a_declared_logits_decoder_is_read_so_and_an_old_bernoulli_sigma_still_opens(foreign, tmp_path):
    folder = tmp_path / "declared"
    shutil.copytree(foreign["logits"]["folder"], folder)
    (folder / "model.json").write_text(json.dumps({"format": "vae-explorer/onnx", "version": 1, "dataset": "mnist5k",
                                                   "likelihood": "bernoulli", "sigma": 0.1,
                                                   "decoder_output": "logits"}))
    run = load_run(folder)
    assert run.roles.decoder_output == "logits" and run.config.model.likelihood == "bernoulli"
    run.model.close()


def test_an_exported_bernoulli_run_writes_no_sigma(tmp_path):
    assert main(["export", str(DEMOS / "mnist5k-z2"), "--out", str(tmp_path / "out")]) == 0
    meta = json.loads((tmp_path / "out" / "model.json").read_text())
    assert meta["likelihood"] == "bernoulli" and "sigma" not in meta and meta["decoder_output"] == "probabilities"


# -- layouts that fit no role: one sentence each -----------------------------------------------------
def value(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def model(inputs, outputs):
    """A graph whose inputs and outputs are declared as given; each output is the first input (never run)."""
    nodes = [helper.make_node("Identity", [inputs[0].name], [o.name]) for o in outputs]
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs), opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def encoder(outputs=("mu", "logvar"), image=(1, 8, 8)):
    return model([value("x", ["b", *image])], [value(n, ["b", 3]) for n in outputs])


def decoder(inputs=("z",), image=(1, 8, 8)):
    return model([value(n, ["b", 3]) for n in inputs], [value("x_mean", ["b", *image])])


@pytest.mark.parametrize("enc, dec, meta, words", [
    (encoder(("a", "b", "c", "d")), decoder(), {}, "has 4 outputs (a, b, c, d); it should have two"),
    (encoder(), decoder(("z", "c")), {}, "has 2 inputs (z, c); a decoder takes one"),
    (encoder(image=(3, 3, 3)), decoder(image=(3, 3, 3)), {}, "read as channels first and as channels last alike"),
    (encoder(image=(5, 8, 8)), decoder(image=(5, 8, 8)), {}, "square grayscale or RGB images"),
    (encoder(("mu", "log_sigma")), decoder(), {}, "gives log_sigma, by its name a standard deviation"),
    (encoder(("mu", "mean")), decoder(), {}, "do not read as mu and logvar"),
    (encoder(image=(3, 8, 8)), model([value("z", ["b", 3])], [value("x", ["b", 192])]), {}, "flat images of 192"),
    (encoder(), decoder(image=(1, 9, 9)), {}, "do not fit together"),
], ids=["encoder-4-outputs", "decoder-2-inputs", "ambiguous-shapes", "5-channels", "log-sigma", "two-means",
        "flat-rgb", "misfit"])
def test_a_layout_that_fits_no_role_is_one_sentence(enc, dec, meta, words, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "encoder.onnx").write_bytes(enc.SerializeToString())
    (folder / "decoder.onnx").write_bytes(dec.SerializeToString())
    with pytest.raises(UserError) as info:
        load_run(folder)
    message = str(info.value)
    assert words in message and message.endswith(".") and "\n" not in message, message
    assert main(["evaluate", str(folder), "--dataset", "mnist5k"]) == 2


def test_roles_by_name_in_any_order_by_position_and_a_declared_layout():
    roles, image, z = graph_roles(encoder(("z_log_var", "z_mean")), decoder(), OnnxMeta(), "p")
    assert roles.encoder_outputs == ("z_mean", "z_log_var") and image == (1, 8, 8) and z == 3
    roles, _, _ = graph_roles(encoder(("out_0", "out_1", "out_2")), decoder(), OnnxMeta(), "p")  # Keras' order
    assert roles.encoder_outputs == ("out_0", "out_1") and roles.ignored == ("out_2",)
    roles, _, _ = graph_roles(encoder(("sample", "a", "b")), decoder(), OnnxMeta(), "p")
    assert roles.encoder_outputs == ("a", "b") and roles.ignored == ("sample",)
    roles, image, _ = graph_roles(encoder(image=(3, 3, 3)), decoder(image=(3, 3, 3)), OnnxMeta(layout="nhwc"), "p")
    assert roles.layout == roles.decoder_layout == "nhwc" and image == (3, 3, 3)
    roles, _, _ = graph_roles(encoder(), model([value("z", ["b", 3])], [value("x", ["b", 64])]), OnnxMeta(), "p")
    assert roles.decoder_layout == "flat" and roles.decoder_output == "detect"

"""Models trained elsewhere, as ONNX encoder/decoder pairs (training/models/onnx_*.py): a VAE this library did
not write opens in the explorer and decodes exactly; a run exported and opened again draws the same
images; every hostile file is refused with one sentence (CLI exit 2)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from streamlit.testing.v1 import AppTest
from torch import nn

from explorer import DEMOS
from training.cli import main
from training.core.errors import UserError
from training.models import onnx_decoder, onnx_graph
from training.models.catalogue import list_runs
from training.models.open import load_run
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parents[1] / "explorer" / "app.py"
Z = 5  # not a latent size the library's demos use


class TheirVAE(nn.Module):
    """Somebody else's conv VAE for 8x8 digits: batch norm, LeakyReLU, an upsampling decoder."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
                                 nn.Conv2d(8, 16, 4, stride=2, padding=1), nn.BatchNorm2d(16), nn.LeakyReLU(0.1),
                                 nn.Flatten(), nn.Linear(16 * 4 * 4, 2 * Z))
        self.dec = nn.Sequential(nn.Linear(Z, 16 * 4 * 4), nn.LeakyReLU(0.1), nn.Unflatten(1, (16, 4, 4)),
                                 nn.Upsample(scale_factor=2), nn.Conv2d(16, 8, 3, padding=1), nn.BatchNorm2d(8),
                                 nn.LeakyReLU(0.1), nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid())

    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return mu, logvar


class _Enc(nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, x):
        return self.vae.encode(x)


def export_pair(vae: TheirVAE, folder: Path, meta: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Enc(vae), (torch.rand(3, 1, 8, 8),), str(folder / "encoder.onnx"), input_names=["x"],
                          output_names=["mu", "logvar"], dynamic_shapes={"x": {0: batch}}, dynamo=True,
                          external_data=False, verbose=False)
        torch.onnx.export(vae.dec, (torch.randn(3, Z),), str(folder / "decoder.onnx"), input_names=["z"],
                          output_names=["x_mean"], dynamic_shapes={"input": {0: batch}}, dynamo=True,
                          external_data=False, verbose=False)
    if meta is not None:
        (folder / "model.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def theirs(tmp_path_factory):
    torch.manual_seed(0)
    vae = TheirVAE()
    with torch.no_grad():  # some training-like statistics in the batch norms, then inference mode
        vae.train()
        vae.dec(torch.randn(64, Z))
        vae.enc(torch.rand(64, 1, 8, 8))
    vae.eval()
    folder = export_pair(vae, tmp_path_factory.mktemp("models") / "their-vae", {"format": "vae-explorer/onnx",
                                                                               "version": 1, "dataset": "digits"})
    return vae, folder


def test_a_model_this_library_did_not_write_decodes_and_encodes_exactly(theirs):
    vae, folder = theirs
    run = load_run(folder)
    assert run.config.model.latent_dim == Z and run.config.model.image_shape == (1, 8, 8)
    assert run.config.train.dataset == "digits" and run.history == []
    z = torch.randn(17, Z)
    with torch.no_grad():
        np.testing.assert_allclose(run.model.decode_mean(z).numpy(), vae.dec(z).numpy(), atol=1e-4)
        x = torch.rand(9, 1, 8, 8)
        for got, want in zip(run.model.encode(x), vae.encode(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4)
    (summary,) = list_runs(folder.parent)
    assert summary.ready and summary.latent_dim == Z and summary.dataset == "digits"


def test_the_explorer_pages_work_on_it_and_the_history_pages_say_why_not(theirs, monkeypatch):
    _, folder = theirs
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(folder)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    sliders = [s for s in at.slider if s.key and s.key.startswith("z_")]
    assert len(sliders) == Z
    from training.data import load_dataset
    from training.vae.evaluate import elbo_terms, summarize

    kl = summarize(elbo_terms(load_run(folder).model, load_dataset("digits").x_test))["kl_per_dim"]
    assert [s.label.split(" · ")[1] for s in sliders] == [f"KL {kl[int(s.key[2:])]:.2f}" for s in sliders]
    for page in ("views/latent_map.py", "views/interpolate.py", "views/samples.py", "views/theory.py", "views/scrub.py",
                 "views/models.py", "views/balance.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    assert any("without a training history" in i.value for i in at.info)  # Balance: nothing to plot, said so
    at.switch_page("views/scrub.py").run()
    assert any("ONNX decoder uses operations" in i.value for i in at.info)  # convolutions: server-side sliders
    at.switch_page("views/latent_map.py").run()
    (chart,) = at.get("plotly_chart")
    assert "scattergl" in chart.proto.spec
    monkeypatch.setenv("VAE_EXPLORER_MAP_RENDERER", "regl")  # the renderer of maps above 10,000 points
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "map_canvas" in [e.proto.component_name for e in at.get("bidi_component")] and not at.get("plotly_chart")


def test_its_models_card_says_where_it_comes_from(theirs, monkeypatch):
    _, folder = theirs
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(folder.parent))
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(folder)
    at.run()
    at.switch_page("views/models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("A model from elsewhere" in m.value for m in at.markdown)
    assert not any("epochs 0 of 1" in m.value for m in at.markdown)


def test_evaluate_scores_it_with_the_runs_estimators(theirs, capsys):
    _, folder = theirs
    assert main(["evaluate", str(folder), "--iw-samples", "4", "--elbo-samples", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_neg_elbo"] > 0 and len(result["kl_per_dim"]) == Z


def test_a_run_exported_and_opened_again_draws_the_same_images(tmp_path, capsys):
    assert main(["export", str(DEMOS / "mnist5k-z2"), "--out", str(tmp_path / "exported")]) == 0
    meta = json.loads((tmp_path / "exported" / "model.json").read_text())
    assert meta["dataset"] == "mnist5k" and meta["latent_dim"] == 2 and meta["likelihood"] == "bernoulli"
    ours, back = load_run(DEMOS / "mnist5k-z2"), load_run(tmp_path / "exported")
    z = torch.randn(25, 2) * 2
    with torch.no_grad():
        np.testing.assert_allclose(back.model.decode_mean(z).numpy(), ours.model.decode_mean(z).numpy(), atol=1e-5)
    assert main(["export", str(DEMOS / "mnist5k-z2"), "--out", str(tmp_path / "exported")]) == 2  # not over a folder
    assert "not an empty folder" in capsys.readouterr().err


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_an_exported_decoder_runs_in_the_browser_decoder_exactly(tmp_path, arch):
    from training.core.config import RunConfig
    from training.models.open import load_decoder
    from training.runs.checkpoint import weights_bytes
    from training.runs.layout import atomic_write
    from training.vae.model import VAE

    cfg = RunConfig(model={"arch": arch, "hidden": (32, 16) if arch == "conv" else (48,), "latent_dim": 3,
                           "image_shape": (1, 8, 8)}, train={"dataset": "digits"})
    torch.manual_seed(1)
    vae = VAE(cfg.model).eval()
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(cfg.model_dump_json())
    atomic_write(run / "model.safetensors", weights_bytes(vae, 0))
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 0
    decoder = load_decoder(tmp_path / "onnx")  # what the Real-time sliders send to the browser
    z = np.random.default_rng(0).standard_normal((11, 3)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(decoder.decode_mean(z), vae.decode_mean(torch.from_numpy(z)).numpy(), atol=1e-5)
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(tmp_path / "onnx")
    at.run()
    at.switch_page("views/scrub.py").run()
    assert not at.exception and not [i for i in at.info if "ONNX" in i.value]  # the pad, not the note


def test_a_decoder_with_other_operations_is_not_sent_to_the_browser(theirs):
    _, folder = theirs
    with pytest.raises(UserError, match="Conv, LeakyRelu, Resize") as info:
        onnx_decoder.array_decoder(folder)
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


def test_a_model_that_names_no_data_set_still_decodes_and_its_data_pages_say_why(theirs, tmp_path):
    _, good = theirs
    folder = tmp_path / "no-dataset"
    folder.mkdir()
    for name in ("encoder.onnx", "decoder.onnx"):
        (folder / name).write_bytes((good / name).read_bytes())
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(folder)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len([s for s in at.slider if s.key and s.key.startswith("z_")]) == Z
    at.switch_page("views/latent_map.py").run()
    assert not at.exception and any("does not name its data set" in i.value for i in at.info)


# -- hostile files ------------------------------------------------------------------------------------
def graph(inputs, outputs, nodes, initializers=(), domain_ops=(("", 17),), functions=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in domain_ops],
                          functions=list(functions))
    m.ir_version = 8
    return m


def value(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def good_decoder():
    w = helper.make_tensor("w", TensorProto.FLOAT, [Z, 64], np.zeros(Z * 64, np.float32))
    return graph([value("z", ["b", Z])], [value("x_mean", ["b", 1, 8, 8])],
                 [helper.make_node("MatMul", ["z", "w"], ["h"]),
                  helper.make_node("Reshape", ["h", "shape"], ["x_mean"])],
                 [w, helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 8, 8])])


def hostile(kind: str):
    if kind == "external data":
        m = good_decoder()
        t = m.graph.initializer[0]
        t.ClearField("float_data")
        t.data_location = TensorProto.EXTERNAL
        t.external_data.add(key="location", value="../../etc/passwd")
        return m
    if kind == "custom operator domain":
        return graph([value("z", ["b", Z])], [value("x_mean", ["b", 1, 8, 8])],
                     [helper.make_node("Evil", ["z"], ["x_mean"], domain="com.evil")],
                     domain_ops=(("", 17), ("com.evil", 1)))
    if kind == "unknown operator":
        return graph([value("z", ["b", Z])], [value("x_mean", ["b", 1, 8, 8])],
                     [helper.make_node("NotAnOnnxOp", ["z"], ["x_mean"])])
    if kind == "control flow":
        branch = helper.make_graph([helper.make_node("Identity", ["z"], ["y"])], "b", [], [value("y", ["b", Z])])
        return graph([value("z", ["b", Z]), value("c", [], TensorProto.BOOL)], [value("x_mean", ["b", 1, 8, 8])],
                     [helper.make_node("If", ["c"], ["x_mean"], then_branch=branch, else_branch=branch)])
    if kind == "huge declared tensor":
        m = good_decoder()
        m.graph.initializer.append(TensorProto(name="big", data_type=TensorProto.FLOAT, dims=[100_000, 100_000]))
        return m
    if kind == "two inputs":  # names say nothing (any names do), but a decoder takes one input
        m = good_decoder()
        m.graph.input.append(value("c", ["b", Z]))
        return m
    if kind == "wrong rank":
        m = good_decoder()
        m.graph.output[0].CopyFrom(value("x_mean", ["b", 8, 8]))
        return m
    if kind == "wrong type":
        m = good_decoder()
        m.graph.input[0].CopyFrom(value("z", ["b", Z], TensorProto.INT64))
        return m
    if kind == "local function":
        f = helper.make_function("my.domain", "F", ["a"], ["b"], [helper.make_node("Identity", ["a"], ["b"])],
                                 [helper.make_opsetid("", 17)])
        m = good_decoder()
        m.functions.append(f)
        return m
    raise AssertionError(kind)


KINDS = ["external data", "custom operator domain", "unknown operator", "control flow", "huge declared tensor",
         "two inputs", "wrong rank", "wrong type", "local function", "not protobuf"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_decoder_is_refused_with_one_sentence_and_exit_2(theirs, tmp_path, kind, capsys):
    _, good = theirs
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "encoder.onnx").write_bytes((good / "encoder.onnx").read_bytes())
    (folder / "model.json").write_text((good / "model.json").read_text())
    if kind == "not protobuf":
        (folder / "decoder.onnx").write_bytes(b"\x08\x07not a protobuf at all \xff\xfe" * 20)
    else:
        (folder / "decoder.onnx").write_bytes(hostile(kind).SerializeToString())
    with pytest.raises(UserError) as info:
        load_run(folder)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message and message.endswith(".")
    assert main(["evaluate", str(folder), "--iw-samples", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert list_runs(tmp_path) == []  # the listing skips it: never offered as a model


def test_a_graph_over_the_size_limit_is_refused_before_it_is_read(theirs, tmp_path, monkeypatch):
    big = tmp_path / "decoder.onnx"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))  # not even ONNX: the size alone refuses it
    monkeypatch.setenv("VAE_EXPLORER_MAX_WEIGHTS_MB", "1")
    with pytest.raises(UserError, match="over the 1,048,576 bytes"):
        onnx_graph.read_graph(big, "decoder")


def test_encoder_and_decoder_must_fit_together_and_model_json_must_be_valid(theirs, tmp_path):
    _, good = theirs
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "encoder.onnx").write_bytes((good / "encoder.onnx").read_bytes())
    other = good_decoder()
    other.graph.input[0].CopyFrom(value("z", ["b", Z + 1]))
    other.graph.initializer[0].CopyFrom(helper.make_tensor("w", TensorProto.FLOAT, [Z + 1, 64],
                                                           np.zeros((Z + 1) * 64, np.float32)))
    (folder / "decoder.onnx").write_bytes(other.SerializeToString())
    with pytest.raises(UserError, match="do not fit together"):
        load_run(folder)
    (folder / "decoder.onnx").write_bytes((good / "decoder.onnx").read_bytes())
    (folder / "model.json").write_text('{"format": "vae-explorer/onnx", "version": 1, "likelihood": "poisson"}')
    with pytest.raises(UserError, match="not a valid model description"):
        load_run(folder)
    onnx.checker.check_model(onnx.load(str(good / "decoder.onnx")))  # the good pair is a valid ONNX model

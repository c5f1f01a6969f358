"""``python -m training encode --run RUN IMAGE... [--json] [--seed N]``: the JSON's fields and values (the same
numbers ``read_input`` gives on the same prepared image), the text report, several images, a model whose data
set cannot be loaded, and every bad file refused with one sentence and exit 2 before anything is printed."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from training.analysis import one_input
from training.analysis.latent import encode_dataset
from training.cli import main
from training.data import load_dataset
from training.data.image_file import read_image_file
from training.data.preprocess import prepare
from training.models.open import load_run
from training.vae import evaluate

TINY = ["--dataset", "digits", "--hidden", "32", "--latent-dim", "2", "--batch-size", "64", "--quiet"]
FIELDS = {"file", "mu", "sigma", "kl_per_dim", "kl", "recon_nll", "recon_nll_mean", "neg_elbo", "iwae_nll",
          "percentile", "far_outside", "nearest"}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("encode") / "run"
    assert main(["fit", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    return out


def _drawing(path, line, size=120):
    """A dark stroke on white, as one draws or scans a digit."""
    image = Image.new("L", (size, size), 255)
    ImageDraw.Draw(image).line(line, fill=0, width=size // 10)
    image.save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    one = _drawing(folder / "one.png", [(60, 15), (60, 105)])
    seven = _drawing(folder / "seven.png", [(20, 20), (100, 20), (45, 105)])
    return one, seven


def _json(capsys, *argv) -> dict:
    assert main(["encode", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_json_gives_what_read_input_gives_on_the_same_prepared_image(trained_run, images, capsys):
    result = _json(capsys, "--run", str(trained_run), str(images[0]), "--seed", "3")
    assert set(result) == {"run", "dataset", "k", "iwae_k", "images"}
    assert result["run"] == str(trained_run) and result["dataset"] == "digits"
    assert result["k"] == 8 and result["iwae_k"] == 100
    [image] = result["images"]
    assert set(image) == FIELDS and image["file"] == str(images[0])

    run = load_run(trained_run)
    x = prepare(read_image_file(images[0]), "digits", (1, 8, 8)).x
    reading = one_input.read_input(run.model, torch.from_numpy(x), seed=3)
    np.testing.assert_allclose(image["mu"], reading.mu, rtol=1e-12)
    np.testing.assert_allclose(image["sigma"], reading.sigma, rtol=1e-12)
    np.testing.assert_allclose(image["kl_per_dim"], reading.kl_per_dim, rtol=1e-12)
    assert image["recon_nll"] == pytest.approx(reading.recon_nll[0], rel=1e-12)
    for key in ("kl", "recon_nll_mean", "neg_elbo", "iwae_nll"):
        assert image[key] == pytest.approx(getattr(reading, key), rel=1e-12), key
    assert image["neg_elbo"] == pytest.approx(image["recon_nll_mean"] + image["kl"])

    data = load_dataset("digits")
    x_test = evaluate.test_images(run.config, data)
    scores = one_input.test_neg_elbos(run.model, x_test, seed=3)
    assert image["percentile"] == pytest.approx(100 * np.mean(scores < reading.neg_elbo))
    assert image["far_outside"] == bool(reading.neg_elbo > np.quantile(scores, 0.995))
    order = one_input.nearest_test(reading.mu, encode_dataset(run.model, x_test))
    assert [n["index"] for n in image["nearest"]] == order.tolist()
    assert [n["label"] for n in image["nearest"]] == [data.label_names[int(data.y_test[i])] for i in order]


def test_several_images_in_order_and_the_same_seed_gives_the_same_numbers(trained_run, images, capsys):
    both = _json(capsys, "--run", str(trained_run), str(images[0]), str(images[1]))["images"]
    assert [i["file"] for i in both] == [str(p) for p in images]
    assert both[0]["mu"] != both[1]["mu"]
    again = _json(capsys, "--run", str(trained_run), str(images[1]))["images"][0]
    assert again == both[1]
    other_seed = _json(capsys, "--run", str(trained_run), str(images[1]), "--seed", "1")["images"][0]
    assert other_seed["mu"] == both[1]["mu"] and other_seed["neg_elbo"] != both[1]["neg_elbo"]


def test_the_text_report_names_each_image_and_its_terms(trained_run, images, capsys):
    assert main(["encode", "--run", str(trained_run), str(images[0]), str(images[1])]) == 0
    out = capsys.readouterr().out
    for phrase in ("mu ", "sigma ", "KL per dim", "-ln q(x|z)", "-ELBO", "IWAE -ln q(x)", "nearest test",
                   "test images' -ELBOs", str(images[0]), str(images[1])):
        assert phrase in out, phrase
    assert out.count("nearest test") == 2 and "no test images to compare with" not in out


def _error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing else is printed, not even the good images' report
    err = captured.err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_a_file_that_is_no_image_a_missing_one_and_a_blank_one_each_get_one_sentence(trained_run, images, tmp_path,
                                                                                   capsys):
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 40), 255).save(blank)
    cases = [(text, "not an image"), (tmp_path / "missing.png", "no such file"), (blank, "blank")]
    for bad, phrase in cases:
        for json_flag in ([], ["--json"]):
            assert main(["encode", "--run", str(trained_run), str(images[0]), str(bad), *json_flag]) == 2
            err = _error_line(capsys)
            assert phrase in err and str(bad) in err, err


def test_a_model_whose_data_set_cannot_be_loaded_still_reads_the_images(trained_run, images, tmp_path, capsys):
    # an ONNX export that names no data set, and a run whose image folder has gone
    assert main(["export", str(trained_run), "--out", str(tmp_path / "onnx")]) == 0
    capsys.readouterr()
    meta = json.loads((tmp_path / "onnx" / "model.json").read_text())
    meta.pop("dataset", None)
    (tmp_path / "onnx" / "model.json").write_text(json.dumps(meta))
    moved = tmp_path / "moved"
    shutil.copytree(trained_run, moved)
    config = json.loads((moved / "config.json").read_text())
    config["train"]["dataset"] = f"folder:{tmp_path / 'gone'}"
    (moved / "config.json").write_text(json.dumps(config))
    readings = []
    for folder in (tmp_path / "onnx", moved):
        [image] = _json(capsys, "--run", str(folder), str(images[0]))["images"]
        assert image["percentile"] is None and image["far_outside"] is None and image["nearest"] is None
        assert image["neg_elbo"] > 0 and len(image["mu"]) == 2
        readings.append(image)
        assert main(["encode", "--run", str(folder), str(images[0])]) == 0
        out = capsys.readouterr().out
        assert out.count("no test images to compare with") == 1 and "\n  nearest test" not in out
    # neither names a set with a style of its own: both prepare the image plainly, and the same weights read it alike
    np.testing.assert_allclose(readings[0]["mu"], readings[1]["mu"], rtol=1e-5, atol=1e-5)


def test_a_flag_given_twice_or_no_image_is_refused_in_one_sentence(trained_run, images, capsys):
    assert main(["encode", "--run", str(trained_run), str(images[0]), "--seed", "1", "--seed", "2"]) == 2
    assert "given twice; give it once" in _error_line(capsys)
    assert main(["encode", "--run", str(trained_run)]) == 2
    assert "IMAGE" in _error_line(capsys)


def test_ones_own_model_code_is_read_with_model_as_evaluate_reads_it(images, tmp_path, monkeypatch, capsys):
    """--model package.module:factory (tests/own_model_example.py, the 8x8 digits): the images are prepared for
    its shape and read by its own encode; direction takes it too. Neither or both of --run and --model: one
    sentence, exit 2."""
    from tests.own_model_example import make

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    spec = "tests.own_model_example:make"
    result = _json(capsys, "--model", spec, str(images[0]))["images"][0]
    x = prepare(read_image_file(images[0]), "digits", (1, 8, 8)).x
    mu, _ = make().encode(torch.from_numpy(x[None]))
    np.testing.assert_allclose(result["mu"], np.asarray(mu)[0], atol=1e-5)
    assert main(["direction", "--model", spec, "--from", "label:1", "--to", "label:7", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["from_count"] > 0
    assert main(["encode", str(images[0])]) == 2
    assert "either --run RUN or --model" in _error_line(capsys)
    assert main(["encode", "--run", str(tmp_path), "--model", spec, str(images[0])]) == 2
    assert "either --run RUN or --model" in _error_line(capsys)

"""The command line: fit, evaluate, datasets; every bad input gets one sentence, exit 2, nothing written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from training.cli import main
from training.runs.layout import CONFIG, WEIGHTS
from tests.waiting import HANG_S

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--dataset", "digits", "--hidden", "32", "--latent-dim", "2", "--batch-size", "64", "--quiet"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err  # exactly one line
    assert err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["fit", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    return out


def test_fit_writes_a_complete_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.json", "model.safetensors", "history.jsonl", "checkpoint.safetensors"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    history = [json.loads(line) for line in (trained_run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    for key in ("epoch", "beta", "train_recon", "train_kl", "train_loss", "test_recon", "test_kl", "test_loss",
                "kl_per_dim", "seconds", "samples_per_second"):
        assert key in history[0], key


def test_fit_prints_one_line_per_epoch(tmp_path, capsys):
    assert main(["fit", *[a for a in TINY if a != "--quiet"], "--epochs", "2", "--out", str(tmp_path / "r")]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch ")]
    assert len(lines) == 2 and "test recon" in lines[0] and "img/s" in lines[0]


def test_evaluate_json_has_the_documented_keys(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--iw-samples", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"test_neg_elbo", "test_neg_elbo_se", "single_draw_sd", "elbo_samples", "test_recon",
                           "test_kl", "iwae_nll", "iw_samples", "active_units", "kl_per_dim", "over_seeds"}
    assert result["elbo_samples"] == 16 and 0 < result["test_neg_elbo_se"] < 1.0
    assert result["iw_samples"] == 20 and len(result["kl_per_dim"]) == 2
    assert result["test_neg_elbo"] == pytest.approx(result["test_recon"] + result["test_kl"])
    assert result["iwae_nll"] < result["test_neg_elbo"] + 1.0  # the IWAE bound is the tighter one


def test_evaluate_averages_its_elbo_over_draws_of_z_and_gives_the_standard_error(trained_run, capsys):
    import statistics

    import torch

    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import elbo_terms, evaluate_model, summarize, test_images

    run = load_run(trained_run)
    data = load_dataset("digits", image_size=8, channels=1, seed=run.config.train.seed)
    x = test_images(run.config, data)
    result = evaluate_model(run.model, x, iw_samples=2, seed=3, elbo_samples=5)
    gen = torch.Generator().manual_seed(3)  # the same stream, drawn independently here
    recons = [summarize(elbo_terms(run.model, x, gen))["recon"] for _ in range(5)]
    assert result["test_recon"] == pytest.approx(statistics.fmean(recons), rel=1e-9)
    assert result["test_neg_elbo_se"] == pytest.approx(statistics.stdev(recons) / 5 ** 0.5, rel=1e-6)
    assert result["single_draw_sd"] == pytest.approx(statistics.stdev(recons), rel=1e-6)
    assert main(["evaluate", str(trained_run), "--iw-samples", "2", "--elbo-samples", "1"]) == 0
    assert "(one draw of z)" in capsys.readouterr().out
    assert main(["evaluate", str(trained_run), "--elbo-samples", "0"]) == 2
    assert "--elbo-samples must be between 1 and 10000" in _error_line(capsys)


def test_evaluate_over_seeds_gives_the_mean_of_each_seed_and_its_spread(trained_run, capsys):
    import statistics

    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import evaluate_model, test_images

    assert main(["evaluate", str(trained_run), "--iw-samples", "3", "--elbo-samples", "2", "--seed", "4",
                 "--seeds", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    run = load_run(trained_run)
    x = test_images(run.config, load_dataset("digits", image_size=8, channels=1, seed=run.config.train.seed))
    each = [evaluate_model(run.model, x, iw_samples=3, seed=s, elbo_samples=2) for s in (4, 5, 6)]
    spread = result["over_seeds"]
    assert spread["seeds"] == [4, 5, 6]
    for name in ("test_neg_elbo", "test_recon", "iwae_nll"):
        values = [e[name] for e in each]
        assert result[name] == pytest.approx(statistics.fmean(values), rel=1e-9)
        assert spread[name]["sd"] == pytest.approx(statistics.stdev(values), rel=1e-6)
        assert (spread[name]["min"], spread[name]["max"]) == pytest.approx((min(values), max(values)))
    assert len(set(e["test_neg_elbo"] for e in each)) == 3  # the seeds draw differently
    assert result["test_kl"] == pytest.approx(each[0]["test_kl"])  # closed form: the same at every seed
    assert main(["evaluate", str(trained_run), "--iw-samples", "2", "--seeds", "2"]) == 0
    assert "means of seeds 0 to 1" in capsys.readouterr().out
    assert main(["evaluate", str(trained_run), "--seeds", "0"]) == 2
    assert "--seeds must be between 1 and 1000" in _error_line(capsys)


def test_evaluate_prints_a_readable_report(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--iw-samples", "5"]) == 0
    out = capsys.readouterr().out
    assert "IWAE" in out and "active units" in out


def test_resume_continues_to_the_new_total(tmp_path):
    out = tmp_path / "r"
    assert main(["fit", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    assert main(["fit", "--resume", "--out", str(out), "--epochs", "3", "--quiet"]) == 0
    epochs = [json.loads(line)["epoch"] for line in (out / "history.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_datasets_lists_every_name(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist5k", "digits", "shapes", "mnist", "fashion-mnist", "kmnist", "cifar10", "folder:PATH"):
        assert name in out
    assert "mnist5k" in out.split("\n")[0] and "available" in out.split("\n")[0]


@pytest.mark.parametrize("args, phrase", [
    (["--dataset", "nope"], "Unknown dataset"),
    (["--likelihood", "poisson"], "invalid choice"),
    (["--latent-dim", "0"], "--latent-dim 0"),
    (["--latent-dim", "100000"], "--latent-dim 100000"),
    (["--latent-dim", "two"], "invalid int value"),
    (["--beta", "-1"], "--beta -1.0"),
    (["--lr", "-0.1"], "--lr -0.1"),
    (["--epochs", "0"], "--epochs 0"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--hidden", "a,b"], "--hidden"),
    (["--hidden", "0"], "hidden"),
    (["--sigma", "0"], "--sigma 0.0"),
    (["--free-bits", "-2"], "--free-bits"),
    (["--warmup-epochs", "2", "--cycles", "2"], "not both"),
    (["--binarize", "--likelihood", "gaussian"], "bernoulli"),
    (["--arch", "conv", "--hidden", "8,8,8,8"], "divisible"),
    (["--device", "tpu"], "Unknown --device"),
    (["--resume"], "--resume needs --out"),
    (["--bogus-flag"], "Unrecognized arguments: --bogus-flag"),
    (["--latent-dim", "2", "--latent-dim", "3"], "Argument --latent-dim: given twice; give it once"),  # was: 3
    (["--epochs", "1", "--epochs=2"], "Argument --epochs: given twice"),
])
def test_bad_fit_flags_exit_2_with_one_sentence_and_write_nothing(tmp_path, capsys, monkeypatch, args, phrase):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    full = (["fit", "--quiet"] + (["--dataset", "digits"] if "--dataset" not in args else [])
            + (["--epochs", "1"] if "--epochs" not in args else []) + args)
    if "--resume" not in args:
        full += ["--out", str(out)]
    assert main(full) == 2
    assert phrase in _error_line(capsys)
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_existing_run_is_not_overwritten_without_resume(trained_run, capsys):
    before = {str(p.relative_to(trained_run)): p.read_bytes() for p in trained_run.rglob("*") if p.is_file()}
    assert main(["fit", *TINY, "--out", str(trained_run)]) == 2
    assert "--resume" in _error_line(capsys)
    assert {str(p.relative_to(trained_run)): p.read_bytes() for p in trained_run.rglob("*") if p.is_file()} == before


def test_resume_refuses_changed_settings(trained_run, capsys):
    assert main(["fit", "--resume", "--out", str(trained_run), "--beta", "4"]) == 2
    assert "--beta" in _error_line(capsys)


def _copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (CONFIG, WEIGHTS):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


@pytest.mark.parametrize("damage, phrase", [
    (lambda d: (d / WEIGHTS).unlink(), "no model.safetensors"),
    (lambda d: (d / WEIGHTS).write_bytes(b"garbage"), "does not match the config: it is 7 bytes, the config describes"),
    (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:1000]), "safetensors"),
    (lambda d: (d / CONFIG).write_text("{not json"), "not valid JSON"),
    (lambda d: (d / CONFIG).write_text(
        (d / CONFIG).read_text().replace('"latent_dim": 2', '"latent_dim": "two"')), "latent_dim"),
    (lambda d: (d / CONFIG).write_text(
        (d / CONFIG).read_text().replace('"latent_dim": 2', '"latent_dim": 3')), "shape"),
    (lambda d: (d / CONFIG).write_text(
        (d / CONFIG).read_text().replace('"beta": 1.0', '"beta": 1.0, "extra": 1')), "not a known setting"),
])
def test_evaluate_refuses_damaged_runs(trained_run, tmp_path, capsys, damage, phrase):
    run = _copy_run(trained_run, tmp_path / "copy")
    damage(run)
    assert main(["evaluate", str(run), "--iw-samples", "2"]) == 2
    assert phrase in _error_line(capsys)


def test_evaluate_missing_folder(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "absent")]) == 2
    assert "no run folder" in _error_line(capsys)


@pytest.mark.slow  # starts real python processes (about 7 s)
def test_real_process_exit_code_is_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "training", "fit", "--latent-dim", "-3", "--out", str(tmp_path / "x")],
                          cwd=ROOT, capture_output=True, text=True, timeout=HANG_S)  # a hang guard
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --latent-dim -3") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_a_relative_image_folder_is_stored_as_an_absolute_path(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray((rng.random((10, 10)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--dataset", "folder:imgs", "--image-size", "8", "--hidden", "8", "--latent-dim", "2",
                 "--epochs", "1", "--quiet", "--out", "run"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["dataset"] == f"folder:{folder.resolve()}"
    monkeypatch.chdir(ROOT)  # evaluating from elsewhere still finds the images
    assert main(["evaluate", str(tmp_path / "run"), "--iw-samples", "2", "--json"]) == 0


def test_the_fit_flags_are_generated_from_the_config_and_keep_their_names():
    from training.cli import build_parser
    from training.core.settings import SETTING_KEYS, field_of

    fit = build_parser()._subparsers._group_actions[0].choices["fit"]
    flags = {a.option_strings[0]: a for a in fit._actions if a.option_strings}
    for flag in ("--arch", "--latent-dim", "--hidden", "--likelihood", "--sigma", "--min-sigma", "--beta",
                 "--warmup-epochs", "--cycles", "--free-bits", "--samples", "--binarize", "--epochs",
                 "--batch-size", "--lr", "--seed"):  # what scripts already pass: the names must not change
        assert flag in flags, flag
    for key in SETTING_KEYS:  # and each one carries its field's default and help
        action = flags[f"--{key.replace('_', '-')}"]
        assert action.default is None  # --resume tells typed flags from defaults
        if key != "hidden":
            assert f"(default {field_of(key).default})" in action.help
    assert tuple(flags["--likelihood"].choices) == ("bernoulli", "gaussian", "gaussian-learned")
    assert flags["--latent-dim"].type is int and flags["--lr"].type is float


@pytest.mark.parametrize("argv", [
    ["sweep", "--beta", "1,2", "--beta", "3,4", "--out", "x"],
    ["evaluate", "x", "--seed", "1", "--seed", "2"],
    ["stop", "x", "--wait", "0", "--wait", "1"],
    ["export", "x", "--out", "a", "--out", "b"],
])
def test_every_single_valued_flag_given_twice_is_refused_in_every_command(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "given twice; give it once" in _error_line(capsys)
    assert list(tmp_path.iterdir()) == []

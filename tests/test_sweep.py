"""The beta sweep: N queued trainings (one per beta, every other setting equal) and a manifest, from the command
line and from the Train page; every bad input is one sentence and writes nothing; the Sweep page shows one view
of them: N points on the rate-distortion curve, MIG against beta (shapes), N traversals side by side."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from training.cli import main
from training.core.errors import UserError
from training.jobs.control import start_sweep as start
from training.jobs.control import stop_run
from training.models.open import read_config
from training.runs.queue import scan
from training.runs.status import ACTIVE, FINISHED, QUEUED, RunStatus, read_status, write_status
from training.runs.sweep import Sweep, read_sweep, sweep_names, sweep_of
from tests.waiting import HANG_S

pytestmark = pytest.mark.slow  # queues sweeps of trainings in processes of their own

APP = str(Path(__file__).resolve().parent.parent / "explorer" / "app.py")
TINY = ["--dataset", "digits", "--latent-dim", "2", "--hidden", "32", "--epochs", "1", "--threads", "1", "--nice", "0"]


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def stop_all(root: Path) -> None:
    """No training a test started is left running."""
    for run_dir, _, state in scan(root):
        if state in ACTIVE:
            assert stop_run(run_dir, wait=30) not in ACTIVE


@pytest.fixture(scope="module")
def digits_sweep(tmp_path_factory):
    """A finished sweep of three tiny digits models, made by the command line."""
    root = tmp_path_factory.mktemp("sweep") / "runs"
    try:
        assert main(["sweep", "--beta", "0.5,1,2", *TINY, "--out", str(root / "rd"), "--wait"]) == 0
    finally:
        stop_all(root)
    return root


# -- the command line ---------------------------------------------------------------------------------------
def test_the_cli_queues_one_run_per_beta_with_a_manifest_and_all_settings_equal_but_beta(digits_sweep):
    root = digits_sweep
    sw = read_sweep(root, "rd")
    assert sw.betas == (0.5, 1.0, 2.0) and sw.runs == ("rd-beta0.5", "rd-beta1", "rd-beta2")
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [
        "rd-beta0.5", "rd-beta1", "rd-beta2", "rd.sweep.json"]
    configs = [read_config(root / run) for run in sw.runs]
    assert [c.train.beta for c in configs] == [0.5, 1.0, 2.0]
    without_beta = [{**json.loads(c.to_json()), "train": {**json.loads(c.to_json())["train"], "beta": None}}
                    for c in configs]
    assert without_beta[0] == without_beta[1] == without_beta[2]
    assert configs[0].model.latent_dim == 2 and configs[0].train.dataset == "digits" and configs[0].train.epochs == 1
    for run in sw.runs:
        status = read_status(root / run)
        assert status.state == FINISHED and status.launcher == "local"  # queued as the app queues, by its launcher
        assert status.owner.pid > 0 and (root / run / "model.safetensors").is_file()
    assert sweep_of(root / "rd-beta1") == "rd" and sweep_of(root / "elsewhere") is None
    assert sweep_names(root) == ["rd"]


def test_the_cli_says_where_the_runs_are_and_returns_at_once_without_wait(tmp_path, capsys):
    root = tmp_path / "runs"
    try:
        assert main(["sweep", "--beta", "1,3", *TINY, "--out", str(root / "quick")]) == 0
        out = capsys.readouterr().out
        assert "sweep quick: 2 trainings queued in" in out and str(root / "quick-beta3") in out
        assert {read_status(root / run).state for run in ("quick-beta1", "quick-beta3")} <= {QUEUED, "running",
                                                                                            FINISHED}
    finally:
        stop_all(root)


@pytest.mark.parametrize("args, phrase", [
    (["--beta", "0.5,x"], "--beta must be numbers separated by commas"),
    (["--beta", "0,1"], "Every value of --beta must be a number more than 0, not 0."),
    (["--beta", "1,-2"], "more than 0, not -2"),
    (["--beta", "1,nan"], "more than 0, not nan"),
    (["--beta", "2"], "--beta needs at least 2 values for a sweep, not 1."),
    (["--beta", "1,2,1.0"], "--beta lists 1 twice"),
    (["--beta", "1,2,3,4,5,6,7,8,9"], "--beta has 9 values; a sweep has at most 8."),
    (["--beta", "1,2000"], "--beta 2000.0 is not allowed"),
    (["--beta", "1,2", "--latent-dim", "0"], "--latent-dim 0"),
    (["--beta", "1,2", "--dataset", "nope"], "Unknown dataset"),
    (["--beta", "1,2", "--out", "{root}/taken"], "A sweep named 'taken' already exists"),
    (["--beta", "1,2", "--out", "{root}/bad name"], "is not a valid run name"),
    (["--beta", "1,2", "--out", "{root}/half"], "A run named 'half-beta2' already exists"),
    (["--out", "{root}/x"], "The following arguments are required: --beta"),
])
def test_each_bad_sweep_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, phrase):
    root = tmp_path / "runs"
    (root / "half-beta2").mkdir(parents=True)
    (root / "taken.sweep.json").write_text(Sweep("taken", (1.0, 2.0), ("taken-beta1", "taken-beta2")).to_json())
    before = files_under(tmp_path)
    args = [a.replace("{root}", str(root)) for a in args]
    out = [] if "--out" in args else ["--out", str(root / "new")]
    given = {a for a in args if a.startswith("--")}  # a flag given twice is refused in itself: the case's wins
    base = [a for i, a in enumerate(TINY) if a not in given and not (i and TINY[i - 1] in given)]
    assert main(["sweep", *base, *args, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err, err
    assert phrase in err, err
    assert files_under(tmp_path) == before


def test_fits_flags_are_unchanged_by_the_sweep():
    from training.cli import build_parser

    args = build_parser().parse_args(["fit", "--beta", "2.5", "--latent-dim", "3"])
    assert args.beta == 2.5 and args.latent_dim == 3
    args = build_parser().parse_args(["sweep", "--beta", "0.5,1", "--latent-dim", "3"])
    assert args.beta == "0.5,1" and args.latent_dim == 3 and not args.wait


# -- the library ----------------------------------------------------------------------------------------------
class FakeLauncher:
    """Starts nothing; checks that the manifest was written before the first run was launched."""

    kind, max_running = "local", 1

    def __init__(self, root: Path, name: str):
        self.manifest, self.launched = root / f"{name}.sweep.json", []

    def launch(self, run_dir: Path, queued_at: float) -> None:
        assert self.manifest.is_file()
        self.launched.append(run_dir.name)


def test_the_manifest_comes_first_and_a_visitors_limit_counts_the_whole_sweep(tmp_path):
    from training.core.config import RunConfig
    from training.core.settings import flag_name

    config = RunConfig(model={"image_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 2}, train={"dataset": "digits"})
    launcher = FakeLauncher(tmp_path, "s")
    sw = start(tmp_path, "s", config, (4.0, 0.25), launcher, flag_name, requested_by="v", max_per_visitor=3)
    assert launcher.launched == ["s-beta4", "s-beta0.25"] and sw.runs == tuple(launcher.launched)
    assert [read_status(tmp_path / r).requested_by for r in sw.runs] == ["v", "v"]
    before = files_under(tmp_path)
    with pytest.raises(UserError, match="A sweep of 2 runs beside your 2 trainings queued or running would pass "
                                        "the 3 allowed"):
        start(tmp_path, "t", config, (1.0, 2.0), FakeLauncher(tmp_path, "t"), flag_name, requested_by="v",
              max_per_visitor=3)
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("text, phrase", [
    (None, "There is no sweep named 'gone'"),
    ("{not json", "is not valid JSON"),
    ('{"format": "vae-explorer/status"}', "is not a sweep manifest written by this project"),
    ('{"format": "vae-explorer/sweep", "name": "gone", "betas": [1, 2], "runs": ["gone-beta1", "../x"]}',
     "is a damaged sweep manifest"),
    ('{"format": "vae-explorer/sweep", "name": "other", "betas": [1, 2], "runs": ["gone-beta1", "gone-beta2"]}',
     "is a damaged sweep manifest"),
    ('{"format": "vae-explorer/sweep", "name": "gone", "betas": [1, -2], "runs": ["gone-beta1", "gone-beta-2"]}',
     "is a damaged sweep manifest"),
])
def test_a_missing_or_damaged_manifest_is_one_sentence(tmp_path, text, phrase):
    if text is not None:
        (tmp_path / "gone.sweep.json").write_text(text)
    with pytest.raises(UserError, match=phrase) as err:
        read_sweep(tmp_path, "gone")
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


# -- the Sweep page ---------------------------------------------------------------------------------------
def open_sweep_page(runs: Path, run_path: Path | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["runs_root"] = str(runs)
    if run_path is not None:
        at.session_state["run_path"] = str(run_path)
    at.run()
    at.switch_page("views/sweep.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Sweep"
    return at


def chart(at: AppTest, key: str) -> dict:
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"no chart {key}"
    return json.loads(found[0].proto.spec)


def images_in(node) -> int:
    count = 1 if getattr(node, "type", None) == "image" else 0
    return count + sum(images_in(child) for child in getattr(node, "children", {}).values())


def traversal_images(at: AppTest) -> int:
    def find(node):
        if getattr(node, "key", None) == "sweep_traversals":
            return node
        for child in getattr(node, "children", {}).values():
            found = find(child)
            if found is not None:
                return found
        return None

    block = find(at.main)
    assert block is not None, "no traversals"
    return images_in(block)


def test_the_sweep_page_shows_one_view_of_the_n_runs(digits_sweep):
    at = open_sweep_page(digits_sweep, digits_sweep / "rd-beta1")
    assert at.selectbox(key="sweep_pick").value == "rd"
    rd = chart(at, "sweep_rd")["data"][0]
    assert len(rd["x"]) == len(rd["y"]) == 3 and rd["text"] == ["β=0.5", "β=1", "β=2"]
    for beta, kl, recon in zip((0.5, 1, 2), rd["x"], rd["y"]):
        last = json.loads((digits_sweep / f"rd-beta{beta:g}" / "history.jsonl").read_text().splitlines()[-1])
        assert (kl, recon) == pytest.approx((last["test_kl"], last["test_recon"]))
    assert traversal_images(at) == 3
    captions = [c.value for c in at.caption]
    assert [c.split(" · ")[0] for c in captions if c.startswith("β = ")] == ["β = 0.5", "β = 1", "β = 2"]
    assert any("digits has none" in c for c in captions)  # no known factors: no MIG
    assert "MIG against β" in [s.value for s in at.subheader]


def test_runs_still_queued_are_listed_with_their_state_and_join_when_finished(digits_sweep, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(digits_sweep, root)
    finished = read_status(root / "rd-beta2")
    write_status(root / "rd-beta2", RunStatus(state=QUEUED, launcher="local", queued_at=time.time(), epochs=1))
    (root / "newer.sweep.json").write_text(Sweep("newer", (1.0, 2.0), ("newer-beta1", "newer-beta2")).to_json())
    at = open_sweep_page(root, root / "rd-beta0.5")
    assert at.selectbox(key="sweep_pick").value == "rd"  # the current run's sweep, though not the newest
    listing = " ".join(m.value for m in at.markdown)
    assert "β = 2 · `rd-beta2` · queued" in listing and "β = 0.5 · `rd-beta0.5` · finished" in listing
    assert any("still queued or training" in c.value for c in at.caption)
    assert len(chart(at, "sweep_rd")["data"][0]["x"]) == 2 and traversal_images(at) == 2

    write_status(root / "rd-beta2", finished)  # it finished: the next redraw shows it
    at.run()
    assert len(chart(at, "sweep_rd")["data"][0]["x"]) == 3 and traversal_images(at) == 3

    at.selectbox(key="sweep_pick").set_value("newer").run()
    listing = " ".join(m.value for m in at.markdown)
    assert "β = 1 · `newer-beta1` · missing" in listing
    assert "No run of this sweep has finished yet" in at.info[0].value


def test_a_damaged_manifest_is_one_sentence_on_the_page(tmp_path):
    (tmp_path / "bad.sweep.json").write_text("[]")
    at = open_sweep_page(tmp_path)
    assert len(at.error) == 1 and at.error[0].value.endswith("bad.sweep.json is not a sweep manifest written by "
                                                             "this project.")
    assert not at.get("plotly_chart")


def test_without_sweeps_the_page_says_how_to_start_one(tmp_path):
    at = open_sweep_page(tmp_path)
    assert "No β sweep in this runs folder yet" in at.info[0].value


def test_mig_against_beta_for_a_shapes_sweep(tmp_path):
    from training.analysis import disentangle, latent
    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    root = tmp_path / "runs"
    try:
        assert main(["sweep", "--beta", "1,4", "--dataset", "shapes", "--image-size", "16", "--latent-dim", "2",
                     "--hidden", "32", "--epochs", "1", "--threads", "1", "--nice", "0", "--out", str(root / "sh"),
                     "--wait"]) == 0
    finally:
        stop_all(root)
    at = open_sweep_page(root)
    mig = chart(at, "sweep_mig")["data"][0]
    assert mig["x"] == [1.0, 4.0] and len(mig["y"]) == 2
    data = load_dataset("shapes", image_size=16, seed=0)
    for beta, shown in zip((1, 4), mig["y"]):
        run = load_run(root / f"sh-beta{beta}")
        mu = latent.encode_dataset(run.model, test_images(run.config, data))
        expected = disentangle.factor_information(mu, data.y_test.numpy(), data.factor_names).mig
        assert 0.0 <= shown <= 1.0 and shown == pytest.approx(expected)
    assert traversal_images(at) == 2 and len(chart(at, "sweep_rd")["data"][0]["x"]) == 2
    # A run whose history has no MIG (trained before it was recorded) is encoded by the page instead.
    history = root / "sh-beta4" / "history.jsonl"
    records = [json.loads(line) for line in history.read_text().splitlines()]
    history.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "mig"}) + "\n" for r in records))
    assert chart(open_sweep_page(root), "sweep_mig")["data"][0]["y"] == pytest.approx(mig["y"])


# -- the Train page ---------------------------------------------------------------------------------------
@pytest.fixture
def launched(monkeypatch) -> list[str]:
    """The runs the app's LocalLauncher was asked to start; it starts none (the command line's tests start real
    trainings): the app's own code queues them, and they stay queued."""
    from training.jobs.launcher import LocalLauncher

    names: list[str] = []
    monkeypatch.setattr(LocalLauncher, "launch", lambda self, run_dir, queued_at: names.append(run_dir.name))
    monkeypatch.setattr(LocalLauncher, "spawn", lambda self, run_dir, queued_at: None)  # nor the page's refresh
    return names


@pytest.fixture
def runs(tmp_path, monkeypatch, launched):
    root = tmp_path / "runs"
    monkeypatch.setenv("VAE_EXPLORER_RUNS", str(root))
    yield root
    stop_all(root)


def open_train_page(root: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["runs_root"] = str(root)
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="train_dataset").set_value("digits")
    at.number_input(key="train_latent_dim").set_value(2)
    at.text_input(key="train_hidden").set_value("16")
    at.number_input(key="train_epochs").set_value(1)
    at.text_input(key="train_name").set_value("form")
    return at


def press_start(at: AppTest) -> AppTest:
    (button,) = [b for b in at.button if b.label == "Start training"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def test_the_train_form_starts_a_sweep_of_queued_runs(runs, launched):
    at = open_train_page(runs)
    at.text_input(key="train_beta_sweep").set_value("0.5, 2")
    press_start(at)
    assert not at.error, [e.value for e in at.error]
    assert "Sweep form: 2 trainings queued, one per β (0.5, 2)." in [s.value for s in at.success]
    sw = read_sweep(runs, "form")
    assert sw.runs == ("form-beta0.5", "form-beta2")
    configs = [read_config(runs / run) for run in sw.runs]
    assert [c.train.beta for c in configs] == [0.5, 2.0]
    assert configs[0].model == configs[1].model and configs[0].train.epochs == configs[1].train.epochs == 1
    statuses = [read_status(runs / run) for run in sw.runs]
    assert {s.launcher for s in statuses} == {"local"} and statuses[0].requested_by == statuses[1].requested_by
    assert statuses[0].requested_by is not None  # the visitor's, as for one training
    assert at.session_state["train_focus"] == "form-beta0.5"
    assert launched == ["form-beta0.5", "form-beta2"]  # each by the launcher a single training uses


@pytest.mark.parametrize("text, phrase", [
    ("1, x", "'β sweep' must be numbers separated by commas"),
    ("1", "'β sweep' needs at least 2 values for a sweep, not 1."),
    ("1, 2000", "'β sweep' 2000.0 is not allowed"),
    ("2, 2", "'β sweep' lists 2 twice"),
])
def test_the_forms_sweep_errors_name_the_forms_field_and_write_nothing(runs, launched, text, phrase):
    at = open_train_page(runs)
    at.text_input(key="train_beta_sweep").set_value(text)
    press_start(at)
    assert [e.value for e in at.error] and phrase in at.error[0].value, [e.value for e in at.error]
    assert not runs.exists() or list(runs.iterdir()) == []
    assert launched == []


def test_a_manifest_is_never_replaced_and_leaves_no_temporary_file(tmp_path):
    from training.runs.sweep import _create_exclusively

    _create_exclusively(tmp_path / "s.sweep.json", b"first")
    with pytest.raises(UserError, match="A sweep named 's' already exists"):
        _create_exclusively(tmp_path / "s.sweep.json", b"second")
    assert (tmp_path / "s.sweep.json").read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == [
        "s.sweep.json"]

"""Hostile and broken files in a run folder on disk: ``load_run``, ``evaluate`` and ``fit --resume``.

Uploads have their own tests (tests/test_uploads.py); here the files are already in a run folder.
Every case must end in one UserError sentence (the CLI: exit 2, one line), never a traceback,
never unpickling, and in bounded time and memory.
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import pickle
import shutil
import struct
import tracemalloc
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save

from explorer.state.uploads import MAX_UPLOAD_BYTES, save_uploaded_run
from tests.conftest import BytesRead
from training.cli import main
from training.core.config import RunConfig
from training.core.costs import weight_bytes
from training.core.errors import UserError
from training.models.catalogue import list_runs
from training.models.open import load_run
from training.runs.layout import CHECKPOINT, CONFIG, HISTORY, WEIGHTS, check_run_name, run_path

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--batch-size", "256", "--quiet"]


class Marker:
    """Unpickling this creates a file: proof that someone ran pickle on the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.path),)


def torch_save_bytes(obj) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({"weights": obj}, buffer)
    return buffer.getvalue()


def one_sentence(err: BaseException | str) -> str:
    text = str(err)
    assert "\n" not in text and "Traceback" not in text, text
    assert 10 < len(text) < 400 and text.endswith("."), text
    return text


def cli_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A real run folder (1 epoch of digits) with all four files, resumable."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    assert main(["fit", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    assert {CONFIG, WEIGHTS, HISTORY, CHECKPOINT} <= {p.name for p in out.iterdir()}
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "copy"))


def safetensors_blob(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def state_dict(run: Path) -> dict[str, torch.Tensor]:
    return load_run(run).model.state_dict()


def _config(run: Path) -> dict:
    return json.loads((run / CONFIG).read_text())


def _edit_config(run: Path, edit) -> None:
    data = _config(run)
    edit(data)
    (run / CONFIG).write_text(json.dumps(data))


def _zip_of(path: Path) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, arcname=CONFIG)
    return buffer.getvalue()


def _weights_as(dtype):
    def damage(run: Path) -> None:
        weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict(run).items()}
        (run / WEIGHTS).write_bytes(st_save(weights))
    return damage


def _nan_weights(run: Path) -> None:
    weights = dict(state_dict(run))
    first = next(iter(weights))
    weights[first] = weights[first].clone()
    weights[first].view(-1)[0] = float("nan")
    (run / WEIGHTS).write_bytes(st_save(weights))


def _sized(run: Path, blob: bytes) -> None:
    """Write BLOB as the weights, padded to the size the config's weights need, so that it passes the
    size check (training/core/costs.py) and reaches the safetensors parser."""
    need = weight_bytes(RunConfig.from_json((run / CONFIG).read_bytes()).model)
    (run / WEIGHTS).write_bytes(blob + b"\0" * max(0, need - len(blob)))


# (id, damage, a phrase the one sentence must contain)
DAMAGES = [
    ("truncated-weights", lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:777]), "safetensors"),
    ("empty-weights", lambda d: (d / WEIGHTS).write_bytes(b""), "does not match the config: it is 0 bytes"),
    ("header-claims-1TiB", lambda d: _sized(d, struct.pack("<Q", 2**40) + b"{}" * 100),
     "header claims 1,099,511,627,776 bytes"),
    ("offsets-past-end", lambda d: _sized(d, safetensors_blob(
        {"encoder.0.weight": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}, b"\0" * 16)),
     "not a valid safetensors file"),
    ("header-not-json", lambda d: _sized(d, struct.pack("<Q", 20) + b"\xff" * 20),
     "not a valid safetensors file"),
    ("float64-weights", _weights_as(torch.float64), "dtype torch.float64"),
    ("int32-weights", _weights_as(torch.int32), "dtype torch.int32"),
    ("nan-weights", _nan_weights, "NaN or infinite"),
    ("weights-symlink-to-dev-zero", lambda d: ((d / WEIGHTS).unlink(), (d / WEIGHTS).symlink_to("/dev/zero")),
     "no model.safetensors"),
    ("config-extra-key", lambda d: _edit_config(d, lambda c: c["model"].update(evil=1)), "not a known setting"),
    ("config-extra-top-key", lambda d: _edit_config(d, lambda c: c.update(__class__="os.system")),
     "not a known setting"),
    ("config-missing-model", lambda d: _edit_config(d, lambda c: c.pop("model")), "model is missing"),
    ("config-missing-key-ok-default-but-wrong-shape",
     lambda d: _edit_config(d, lambda c: c["model"].pop("hidden")), "does not match the config: it is"),
    ("config-wrong-type", lambda d: _edit_config(d, lambda c: c["model"].update(latent_dim=[2])), "latent_dim"),
    ("config-wrong-type-str", lambda d: _edit_config(d, lambda c: c["train"].update(beta="lots")), "train.beta"),
    ("config-is-a-list", lambda d: (d / CONFIG).write_text("[1, 2, 3]"), "invalid"),
    ("config-out-of-bounds", lambda d: _edit_config(d, lambda c: c["model"].update(hidden=[10**9])), "hidden"),
    ("config-nested-bomb", lambda d: (d / CONFIG).write_text("[" * 100_000), "not valid JSON"),
    ("config-object-bomb", lambda d: (d / CONFIG).write_text('{"a":' * 100_000), "not valid JSON"),
    ("config-is-png", lambda d: (d / CONFIG).write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000)), "not valid JSON"),
    ("config-is-zip", lambda d: (d / CONFIG).write_bytes(_zip_of(d / CONFIG)), "not valid JSON"),
    ("config-is-a-folder", lambda d: ((d / CONFIG).unlink(), (d / CONFIG).mkdir()), "no config.json"),
    ("history-garbage-bytes", lambda d: (d / HISTORY).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
     "history.jsonl"),
    ("history-not-json", lambda d: (d / HISTORY).write_text('{"epoch": 1}\nthis is not json\n'), "line 2"),
    ("history-nested-bomb", lambda d: (d / HISTORY).write_text("[" * 100_000 + "\n"), "line 1"),
    ("history-not-records", lambda d: (d / HISTORY).write_text('[1, 2]\n{"epoch": "one"}\n'),
     "not an epoch record"),
]


@pytest.mark.parametrize("damage, phrase", [d[1:] for d in DAMAGES], ids=[d[0] for d in DAMAGES])
def test_load_run_refuses_a_damaged_run_with_one_sentence(run, damage, phrase):
    damage(run)
    with pytest.raises(UserError) as caught:
        load_run(run)
    assert phrase in one_sentence(caught.value)


@pytest.mark.parametrize("damage, phrase", [d[1:] for d in DAMAGES[::3]], ids=[d[0] for d in DAMAGES[::3]])
def test_evaluate_refuses_a_damaged_run_with_exit_2_and_one_line(run, capsys, damage, phrase):
    damage(run)
    assert main(["evaluate", str(run), "--iw-samples", "2"]) == 2
    assert phrase in cli_error(capsys)


def test_the_undamaged_copy_loads(run):
    assert load_run(run).epoch == 1


# -- pickle payloads never run -------------------------------------------------------------
@pytest.mark.parametrize("encode", [pickle.dumps, torch_save_bytes], ids=["pickle", "torch.save"])
def test_a_pickle_renamed_model_safetensors_is_refused_and_never_unpickled(run, tmp_path, capsys, encode):
    marker = tmp_path / "pwned"
    (run / WEIGHTS).write_bytes(encode(Marker(marker)))
    with pytest.raises(UserError) as caught:
        load_run(run)
    assert "safetensors" in one_sentence(caught.value)
    assert main(["evaluate", str(run), "--iw-samples", "2"]) == 2
    assert "safetensors" in cli_error(capsys)
    assert not marker.exists()


@pytest.mark.parametrize("encode", [pickle.dumps, torch_save_bytes], ids=["pickle", "torch.save"])
def test_a_pickle_renamed_checkpoint_is_refused_by_resume_and_never_unpickled(run, tmp_path, capsys, encode):
    marker = tmp_path / "pwned"
    (run / CHECKPOINT).write_bytes(encode(Marker(marker)))
    before = (run / WEIGHTS).read_bytes()
    assert main(["fit", "--resume", "--out", str(run), "--epochs", "2", "--quiet"]) == 2
    assert "checkpoint.safetensors" in cli_error(capsys)
    assert not marker.exists()
    assert (run / WEIGHTS).read_bytes() == before  # nothing was overwritten


@pytest.mark.parametrize("damage, phrase", [
    (lambda d: (d / CHECKPOINT).write_bytes((d / CHECKPOINT).read_bytes()[:500]), "safetensors"),
    (lambda d: (d / CHECKPOINT).write_bytes(struct.pack("<Q", 2**40) + b"{}"), "header claims"),
    (lambda d: (d / CHECKPOINT).write_bytes(st_save({"x": torch.zeros(2)}, metadata={"format": "x"})),
     "not a checkpoint written by this project"),
    (lambda d: (d / CHECKPOINT).unlink(), "no checkpoint"),
    (lambda d: _edit_checkpoint_meta(d, history="[1, 2]"), "not a checkpoint written by this project"),
    (lambda d: _edit_checkpoint_meta(d, param_groups="[]"), "not a checkpoint written by this project"),
    (lambda d: _edit_checkpoint_meta(d, param_groups='"x"'), "not a checkpoint written by this project"),
    (lambda d: _edit_checkpoint_meta(d, epoch="-5"), "not a checkpoint written by this project"),
    (lambda d: _edit_checkpoint_meta(d, config='{"format": 1}'), "not a checkpoint written by this project"),
    (lambda d: _edit_checkpoint_tensors(d, lambda t: {k: v.double() if k.startswith("model.") else v
                                                       for k, v in t.items()}), "dtype torch.float64"),
    (lambda d: _edit_checkpoint_tensors(d, lambda t: {**t, "optim.0.exp_avg": torch.zeros(3)}),
     "not a checkpoint written by this project"),
], ids=["truncated", "header-1TiB", "foreign-safetensors", "missing", "meta-history-not-records",
        "meta-no-param-groups", "meta-param-groups-not-a-list", "meta-negative-epoch", "meta-config-invalid",
        "float64-model-tensors", "optimizer-state-wrong-shape"])
def test_resume_refuses_a_damaged_checkpoint_with_one_line(run, capsys, damage, phrase):
    damage(run)
    assert main(["fit", "--resume", "--out", str(run), "--epochs", "2", "--quiet"]) == 2
    assert phrase in cli_error(capsys)


def _edit_checkpoint_meta(run: Path, **changes: str) -> None:
    from safetensors import safe_open

    with safe_open(str(run / CHECKPOINT), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    (run / CHECKPOINT).write_bytes(st_save(tensors, metadata={**meta, **changes}))


def _edit_checkpoint_tensors(run: Path, edit) -> None:
    from safetensors import safe_open

    with safe_open(str(run / CHECKPOINT), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    (run / CHECKPOINT).write_bytes(st_save(edit(tensors), metadata=meta))


# -- bombs: bounded time and memory --------------------------------------------------------
def test_a_50_mb_config_is_refused_quickly_with_bounded_memory(run):
    (run / CONFIG).write_bytes(b"[" * (50 * 1024**2))
    tracemalloc.start()
    try:
        with BytesRead() as io, pytest.raises(UserError) as caught:
            load_run(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert io.count < 2 * 1024**2  # refused from its size: the 50 MB are not read
    assert peak < 120 * 1024**2  # the file once, not a parse tree of it
    assert "52,428,800 bytes" in one_sentence(caught.value)


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 999_000, '{"a":' * 190_000])
def test_deeply_nested_json_configs_are_refused_with_bounded_memory(run, text):
    (run / CONFIG).write_text(text)
    tracemalloc.start()
    try:
        with pytest.raises(UserError) as caught:
            load_run(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024**2  # the parser gives up at its depth limit: no tree of a million levels is built
    assert "not valid JSON" in one_sentence(caught.value)


def test_a_history_over_its_limit_is_refused_without_reading_it(run):
    with open(run / HISTORY, "wb") as f:
        f.truncate(65 * 1024**2)  # sparse: no disk used
    with BytesRead() as io, pytest.raises(UserError) as caught:
        load_run(run)
    assert io.count < 1024**2  # refused from its size, not read
    assert "over 64 MB" in one_sentence(caught.value)


# -- paths that try to leave their folder --------------------------------------------------
@pytest.mark.parametrize("name", ["../x", "..", ".", "/etc", "/tmp/x", "a/b", "a\\b", "~root", "x\0y", "", " x",
                                  "-rf", ".hidden", "a" * 101, "..a", "a..b"])
def test_run_names_that_leave_the_runs_folder_are_refused(tmp_path, name):
    with pytest.raises(UserError) as caught:
        run_path(tmp_path, name)
    one_sentence(caught.value)
    with pytest.raises(UserError):
        check_run_name(name)


def test_a_symlinked_run_name_pointing_outside_the_root_is_refused(tmp_path, trained):
    root, outside = tmp_path / "runs", tmp_path / "outside"
    root.mkdir()
    shutil.copytree(trained, outside)
    (root / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UserError) as caught:
        run_path(root, "evil")
    assert "outside" in one_sentence(caught.value)
    assert run_path(root, "fine") == (root / "fine").resolve()


def test_runs_listing_skips_symlinks_leading_out_of_the_root(tmp_path, trained):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(trained, root / "inside")
    shutil.copytree(trained, tmp_path / "outside")
    (root / "evil").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "alias").symlink_to(root / "inside", target_is_directory=True)  # stays inside: allowed
    names = {r.name for r in list_runs(root)}
    assert names == {"inside", "alias"}


def test_uploads_and_trainings_refuse_a_symlinked_name_leading_outside(tmp_path, trained):
    root, outside = tmp_path / "runs", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "evil").symlink_to(outside, target_is_directory=True)
    cfg = (trained / CONFIG).read_bytes()
    with pytest.raises(UserError, match="outside"):
        save_uploaded_run(cfg, (trained / WEIGHTS).read_bytes(), root, "evil")
    assert list(outside.iterdir()) == []
    # the Train page's trainings go through run_path too (tests/test_trainings.py)
    with pytest.raises(UserError, match="outside"):
        run_path(root, "evil")


def test_cli_out_and_evaluate_paths_are_used_as_typed(tmp_path, capsys):
    """The CLI takes any folder its user names (it runs with that user's rights); a missing one is one line."""
    assert main(["evaluate", str(tmp_path / ".." / "nope" / "run")]) == 2
    assert "no run folder" in cli_error(capsys)


# -- upload size limit of the function itself ----------------------------------------------
def test_an_upload_over_64_mb_is_refused_before_parsing(tmp_path, trained):
    huge = b"\0" * (MAX_UPLOAD_BYTES + 1)
    with pytest.raises(UserError) as caught:
        save_uploaded_run((trained / CONFIG).read_bytes(), huge, tmp_path / "runs", "big")
    assert "limit is 64 MB" in one_sentence(caught.value)
    with pytest.raises(UserError, match="config file is 64.0 MB"):
        save_uploaded_run(huge, (trained / WEIGHTS).read_bytes(), tmp_path / "runs", "big")
    assert not (tmp_path / "runs").exists()


def test_the_upload_limit_matches_the_servers_max_upload_size():
    toml = (ROOT / "explorer" / ".streamlit" / "config.toml").read_text()
    line = next(ln for ln in toml.splitlines() if ln.strip().startswith("maxUploadSize"))
    assert int(line.split("=")[1].split("#")[0]) * 1024**2 == MAX_UPLOAD_BYTES


# -- no pickle anywhere in the code that reads files ---------------------------------------
def _python_files():
    for folder in ("training", "explorer", "benchmarks", "tests"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_torch_load_is_only_ever_called_with_weights_only_true():
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            dotted = ast.unparse(node.func)
            if dotted == "torch.load" or dotted.endswith("serialization.load"):
                safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                           for k in node.keywords)
                if not safe:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


UNPICKLERS = ("pickle.load", "pickle.loads", "pickle.Unpickler", "marshal.loads", "dill.load", "joblib.load")


def test_the_library_and_app_never_unpickle():
    offenders = []
    for path in _python_files():
        if path.parts[-2] == "tests":
            continue  # tests build pickles to prove they are refused
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            called = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
            if called in UNPICKLERS or called in ("np.load", "numpy.load") and any(
                    k.arg == "allow_pickle" for k in node.keywords):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m.split(".")[0] in ("pickle", "dill", "cloudpickle", "joblib") for m in mods):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {mods}")
    assert offenders == []

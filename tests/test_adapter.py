"""One's own model code in the explorer and evaluate (training/models/adapter.py): run only when named on the
command line; a folder naming anything else is refused and never imported."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from training.cli import main
from training.core.errors import UserError
from training.models import adapter
from training.models.open import load_run
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parents[1] / "explorer" / "app.py"
SPEC = "tests.own_model_example:make"


def test_the_named_model_decodes_its_own_way_and_evaluate_scores_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    assert main(["evaluate", "--model", SPEC, "--iw-samples", "3", "--elbo-samples", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["kl_per_dim"]) == 3 and result["test_neg_elbo"] > 0
    run = load_run(adapter.folder_for(SPEC))
    from tests.own_model_example import make

    z = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(run.model.decode_mean(torch.from_numpy(z)).numpy(), make().decode(z), atol=1e-6)


def test_the_app_opens_it_by_default_and_its_pages_work(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    monkeypatch.setenv(adapter.ENV, SPEC)
    for name in [m for m in sys.modules if m.startswith("explorer")]:
        monkeypatch.delitem(sys.modules, name)  # the app reads its command line when it starts
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "own_model_example" in at.selectbox(key="model_picker").value
    assert len([s for s in at.slider if s.key and s.key.startswith("z_")]) == 3
    for page in ("views/latent_map.py", "views/interpolate.py", "views/samples.py", "views/scrub.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    assert any("your own Python code" in i.value for i in at.info)  # Real-time sliders: the server decodes it
    monkeypatch.setenv("VAE_EXPLORER_MAP_RENDERER", "regl")  # the renderer of maps above 10,000 points
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "map_canvas" in [e.proto.component_name for e in at.get("bidi_component")] and not at.get("plotly_chart")


def test_a_folder_naming_code_that_was_not_given_is_refused_and_never_imported(tmp_path):
    folder = tmp_path / "sneaky"
    folder.mkdir()
    (folder / "adapter.json").write_text(json.dumps({"spec": "os:system"}))
    with pytest.raises(UserError, match="not given on this app's command line"):
        load_run(folder)
    from training.models.catalogue import list_runs

    assert list_runs(tmp_path) == []


@pytest.mark.parametrize("spec, match", [("not a spec", "package.module:factory"),
                                         ("tests.no_such_module:make", "cannot be imported"),
                                         ("tests.own_model_example:broken", "encode\\(x\\) and decode\\(z\\)")])
def test_a_bad_spec_is_one_sentence_and_exit_2(tmp_path, monkeypatch, capsys, spec, match):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    assert main(["evaluate", "--model", spec]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    import re

    assert re.search(match, err[0])


@pytest.mark.parametrize("spec, match", [
    ("json:loads", r"The model json:loads failed: json:loads\(\) raised TypeError"),  # a factory that raises
    ("builtins:exit", r"tried to end the program while builtins:exit\(\) ran"),       # one that calls sys.exit
    ("tests.no_such_module:make", "cannot be imported"),
])
def test_a_factory_that_fails_or_exits_is_one_sentence_exit_2_and_leaves_no_folder(tmp_path, monkeypatch, capsys,
                                                                                    spec, match):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    assert main(["evaluate", "--model", spec]) == 2  # was: a traceback and 1, or 0 and nothing said
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    import re

    assert re.search(match, err[0])
    assert list(tmp_path.iterdir()) == []  # no adapters/<spec> for a model that was never made

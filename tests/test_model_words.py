"""How the app names a model and its loss, in both languages: a model from elsewhere is no "run" and has no
β; the picker's option is short; the likelihood, the architecture and the loss formula are words a Chinese
visitor reads in Chinese; a broken JSON file is told by line and column in our own words, no parser's English
and no space between two Chinese words."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from tests.waiting import HANG_S


def onnx_folder(root: Path) -> Path:
    folder = root / "their-export"
    folder.mkdir(parents=True)
    (folder / "encoder.onnx").write_bytes(b"")  # the kind of a folder is told by its files (training/models/open.py)
    (folder / "decoder.onnx").write_bytes(b"")
    return folder


def summary(path: Path, **changes):
    from training.models.catalogue import RunSummary

    values = dict(path=path, name=path.name, bundled=False, dataset="digits", arch="mlp", latent_dim=5,
                  likelihood="bernoulli", beta=1.0, epochs_done=0, epochs_planned=0, test_neg_elbo=None,
                  test_recon=None, test_kl=None, active_units=None)
    return RunSummary(**{**values, **changes})


def in_chinese(script, *args) -> dict:
    """What SCRIPT(*args) leaves in session_state["out"], run for a visitor who reads Chinese."""
    at = AppTest.from_function(script, args=args, default_timeout=HANG_S)
    at.session_state["lang"] = "zh"
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state["out"]


def words_of(run) -> None:
    import streamlit as st

    from explorer.widgets import model_words

    st.session_state["out"] = {"caption": model_words.caption(run), "details": model_words.details(run),
                               "label": model_words.short_label(run)}


def test_an_onnx_folder_is_named_by_its_kind_and_has_no_beta(tmp_path):
    from explorer.widgets import model_words

    run = summary(onnx_folder(tmp_path))
    assert model_words.caption(run) == "digits · ONNX graphs · z\u00a0=\u00a05 · Bernoulli"
    assert model_words.short_label(run) == "their-export · ONNX"
    details = model_words.details(run)
    assert details == "their-export: ONNX graphs, data set digits, 5 latent dimensions, Bernoulli decoder"
    for text in (model_words.caption(run), details, model_words.short_label(run)):
        assert "β" not in text and not re.search(r"\brun\b", text)
    zh = in_chinese(words_of, run)
    assert zh["caption"] == "digits · ONNX 计算图 · z\u00a0=\u00a05 · 伯努利"
    assert "β" not in zh["details"] and "训练结果" not in zh["details"] and "伯努利" in zh["details"]


def test_a_run_says_its_architecture_likelihood_and_beta_in_words():
    from explorer.widgets import model_words
    from training.models.catalogue import summarize_run

    demo = summarize_run(DEMOS / "mnist5k-z16", bundled=True)
    assert model_words.caption(demo) == "mnist5k · fully connected · z\u00a0=\u00a016 · Bernoulli · β\u00a0=\u00a01"
    assert model_words.short_label(demo) == "mnist5k-z16 · demo"
    zh = in_chinese(words_of, demo)
    assert zh["caption"] == "mnist5k · 全连接 · z\u00a0=\u00a016 · 伯努利 · β\u00a0=\u00a01"  # never broken
    assert zh["label"] == "mnist5k-z16 · 示例"
    assert not re.search(r"bernoulli|mlp|decoder|demo", zh["details"] + zh["caption"] + zh["label"])


def loss_words() -> None:
    import streamlit as st

    from explorer.figures import charts

    history = [{"epoch": 1, "train_recon": 100.0, "test_recon": 101.0, "train_kl": 5.0, "test_kl": 5.1,
                "beta": 4.0, "train_loss": 120.0, "test_neg_elbo": 106.1}]
    formula = charts.train_loss_formula(4.0, free_bits=0.5)
    st.session_state["out"] = {"formula": formula, "note": charts.loss_note(4.0, free_bits=0.5),
                               "names": [t.name for t in charts.loss_curves(history, train_loss=formula).data]}


def test_the_loss_formula_and_the_two_totals_are_words_in_chinese():
    zh = in_chinese(loss_words)
    assert zh["formula"] == "重建 + β·Σₖ max(0.5, KLₖ)"  # the word translated, the math as it is
    assert "recon" not in zh["note"] and "重建 + KL" in zh["note"]
    train, test = zh["names"][-2:]
    assert train == "训练目标（重建 + β·Σₖ max(0.5, KLₖ)）" and test == "测试 −ELBO（重建 + KL）"  # two names, not one
    assert not [n for n in zh["names"] if re.search(r"recon|loss|train|test", n)]


def broken_uploads() -> None:
    import streamlit as st

    from explorer.i18n import error_text
    from explorer.state.uploads import save_uploaded_run
    from training.core.errors import UserError
    from training.models.onnx_graph import meta_of

    said = []
    for attempt in (lambda: save_uploaded_run(b'{"model": {\n  latent_dim: 0}}', b"\0" * 68, "/nowhere", "x"),
                    lambda: save_uploaded_run(b'{"model": {"latent_dim": 0}, "train": {}}', b"\0" * 68, "/nowhere", "x"),
                    lambda: meta_of(b'{"format": \n\n   oops}', "model.json")):
        try:
            attempt()
        except UserError as err:
            said.append((str(err), error_text(err)))
    st.session_state["out"] = said


def test_a_broken_json_file_is_told_in_chinese_by_line_and_column_without_the_parsers_english():
    (config_en, config_zh), (invalid_en, invalid_zh), (meta_en, meta_zh) = in_chinese(broken_uploads)
    assert config_en == "The uploaded config is not valid JSON (its first error is at line 2, column 3)."
    assert config_zh == "上传的配置不是有效的 JSON（第一处错误在第 2 行第 3 列）。"
    assert invalid_zh == "上传的配置无效：model.latent_dim = 0：它必须至少为 1。"  # no space between two Chinese words
    assert meta_en == "model.json is not valid JSON (its first error is at line 3, column 4)."
    assert meta_zh == "model.json不是有效的 JSON（第一处错误在第 3 行第 4 列）。"
    for text in (config_zh, invalid_zh, meta_zh):
        assert not re.search(r"Expecting|property|delimiter|value|line \d|column", text)
        assert not re.search(r"[\u4e00-\u9fff）] [\u4e00-\u9fff]", text)


def test_a_long_name_keeps_its_start_its_end_and_its_tag_in_the_pickers_width(tmp_path):
    from explorer.widgets import model_words

    long_name = "my-onnx-export-of-the-two-dimensional-demo"
    label = model_words.short_label(summary(onnx_folder(tmp_path).rename(tmp_path / long_name)))
    assert label.startswith("my-onnx") and label.endswith("-demo · ONNX") and "…" in label
    assert model_words.columns(label) <= model_words.PICKER_COLUMNS
    assert model_words.fitted_name("mnist5k-z16", 20) == "mnist5k-z16"  # a name that fits stays whole
    assert model_words.columns("示例") == 4

"""中文 and English: the catalogue covers every marked string, every page speaks the visitor's language,
and no visible string escapes the catalogue (a pseudo-locale wraps every translated string in ⟦...⟧)."""

import re
import string
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import DEMOS, i18n
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
PAGES = ["views/sliders.py", "views/scrub.py", "views/latent_map.py", "views/your_image.py", "views/balance.py", "views/interpolate.py",
         "views/samples.py", "views/train.py", "views/sweep.py", "views/models.py", "views/theory.py"]
DEMO_NAMES = ["mnist5k-z2", "mnist5k-z16"]
# What may be shown without a translation: numbers, symbols, z_k names, formulas, file and run names.
# Names stay as they are in both languages: the loss's terms, projections, data sets, architectures,
# likelihoods, dimensions, equations.
NAMES = re.compile(r"\bln\b|\bexp\b|\bz_\d+\b|\bKL\b|ELBO|\bPCA\b|t-SNE|\bE[1-7]\b|mnist5k[-\w]*|\bdigits\b|\bshapes\b|\bmlp\b|"
                   r"\bconv\b|gaussian-learned|\bgaussian\b|\bbernoulli\b|(?<![A-Za-z])[A-Za-z](_[a-z0-9]+)?(?![A-Za-z])")
DATA = re.compile(r"^[\s\d.,:;·×−+\-=()\[\]{}%/|<>~^_*`'\"√‖∑σμβΩεℓ̃⟦⟧▶◀✕]*$")


def is_data(text: str) -> bool:
    return bool(DATA.match(NAMES.sub("", text)))


def fields(text: str) -> list[str]:
    return sorted({name for _, name, _, _ in string.Formatter().parse(text) if name is not None})


def test_the_catalogue_translates_every_marked_string_and_holds_nothing_unused():
    code, zh = i18n.extracted(), i18n.catalogue("zh")
    assert sorted(set(code) - set(zh)) == [], "marked in the code, missing from messages.po"
    assert sorted(set(zh) - set(code)) == [], "in messages.po, no longer used by the code"
    assert [m for m, t in zh.items() if not t] == [], "untranslated"
    assert [m for m, t in zh.items() if fields(m) != fields(t)] == [], "a translation lost or added a {field}"
    assert len(zh) > 250


def open_page(page: str, lang: str | None, demo: str = "mnist5k-z16", runs: Path | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMOS / demo)
    if runs is not None:
        at.session_state["runs_root"] = str(runs)
    if lang:
        at.query_params["lang"] = lang
    at.switch_page(page)
    at.run()
    assert not at.exception, (page, [e.value for e in at.exception])
    return at


def visible_texts(at: AppTest) -> list[str]:
    """The words a visitor reads: titles, headings, text, captions, alerts, labels, buttons, metrics."""
    texts = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success"):
        texts += [e.value for e in at.get(kind)]
    for kind in ("button", "slider", "number_input", "selectbox", "radio", "toggle", "text_input", "select_slider",
                 "checkbox"):
        texts += [e.label for e in at.get(kind)]
        texts += [e.help for e in at.get(kind) if getattr(e, "help", None)]
    texts += [e.label for e in at.get("metric")]
    return [t for t in texts if t]


@pytest.mark.parametrize("demo", DEMO_NAMES)
def test_every_page_shows_only_catalogue_strings(demo, tmp_path, monkeypatch):
    monkeypatch.setenv(i18n.PSEUDO_ENV, "1")
    for page in PAGES:
        at = open_page(page, "zh", demo, runs=tmp_path)
        loose = [t for t in visible_texts(at) if "⟦" not in t and not is_data(t)]
        assert loose == [], (page, loose)


@pytest.mark.slow  # every page of the app twice per demo (about 8 s each)
@pytest.mark.parametrize("demo", DEMO_NAMES)
def test_every_page_in_chinese_and_in_english(demo, tmp_path):
    for page in PAGES:
        zh = open_page(page, "zh", demo, runs=tmp_path)
        en = open_page(page, "en", demo, runs=tmp_path)
        assert re.search(r"[\u4e00-\u9fff]", zh.title[0].value), (page, zh.title[0].value)
        assert not re.search(r"[\u4e00-\u9fff]", en.title[0].value), (page, en.title[0].value)
        chinese = [t for t in visible_texts(zh) if re.search(r"[\u4e00-\u9fff]", t)]
        assert len(chinese) >= 3, (page, visible_texts(zh))
        assert not [t for t in visible_texts(en) if re.search(r"[\u4e00-\u9fff]", t)], page


def test_the_language_comes_from_the_url_else_the_browser_and_is_kept_per_visitor():
    assert i18n.from_locale("zh-CN") == i18n.from_locale("zh_TW") == i18n.from_locale("zh") == "zh"
    assert i18n.from_locale("en-US") == i18n.from_locale("fr") == i18n.from_locale(None) == "en"
    first, second = open_page("views/balance.py", "zh"), open_page("views/balance.py", "en")
    assert first.session_state["lang"] == "zh" and second.session_state["lang"] == "en"
    assert first.title[0].value == "权衡" and second.title[0].value == "Balance"
    first.run()  # a rerun keeps each visitor's own language
    assert first.title[0].value == "权衡"


def test_a_library_error_shows_in_the_visitors_language():
    from training.core.errors import UserError

    err = UserError("{field} {value} is not allowed: it must be at most {limit}.", field="'x'", value=9, limit=5)
    assert str(err) == "'x' 9 is not allowed: it must be at most 5."
    assert i18n.error_text(err) == str(err)  # no visitor: English
    assert i18n.error_text(ValueError("plain")) == "plain"


@pytest.mark.parametrize("changes, sentence", [
    ({"train_latent_dim": 99999}, "'隐变量维数' 不能是 99999：它必须不超过 512。"),
    ({"train_hidden": "64,99999"}, "'隐藏层大小' 不能是 64,99999：隐藏层大小必须在 1 到 8192 之间。"),
    ({"train_warmup": 2.0, "train_cycles": 3}, "线性预热和周期退火只能二选一，不能同时使用。"),
    ({"train_name": "../evil"}, "不是有效的训练名称"),
])
def test_the_train_forms_errors_come_from_the_library_in_the_visitors_language(changes, sentence, tmp_path):
    at = open_page("views/train.py", "zh", runs=tmp_path)
    at.number_input(key="train_epochs").set_value(1)
    for key, value in changes.items():
        at.get_by_key(key).set_value(value)
    (start,) = [b for b in at.button if b.label == "开始训练"]
    start.click().run()
    assert [e.value for e in at.error] and sentence in at.error[0].value, [e.value for e in at.error]
    assert list(tmp_path.iterdir()) == []


def test_a_runs_recorded_reason_shows_in_the_visitors_language(tmp_path):
    """The training process writes its reason in English with its template; each visitor reads it in theirs."""
    import torch

    from training.core.config import RunConfig
    from training.core.errors import reason
    from training.runs.checkpoint import write_views
    from training.runs.status import STOPPED, RunStatus, write_status
    from training.vae.model import VAE

    run_dir = tmp_path / "halted"
    run_dir.mkdir()
    config = RunConfig(model={"image_shape": (1, 8, 8), "latent_dim": 2, "hidden": (16,)},
                       train={"dataset": "digits", "epochs": 5})
    torch.manual_seed(0)
    write_views(run_dir, config, VAE(config.model).eval(), 3, [{"epoch": e} for e in (1, 2, 3)])
    note = reason("{count} file(s) in {name} were skipped: {shown}.", count=1, name="folder:/imgs", shown="a.txt")
    write_status(run_dir, RunStatus(state=STOPPED, epoch=3, epochs=5, queued_at=1.0, ended_at=2.0, **reason(
        "Stopped; the checkpoint of epoch {epoch} is kept.", epoch=3), data_note=note["reason"],
        data_note_template=note["reason_template"], data_note_values=note["reason_values"]))
    zh = open_page("views/train.py", "zh", runs=tmp_path)
    en = open_page("views/train.py", "en", runs=tmp_path)
    assert "已停止；保留了第 3 轮的检查点。" in [w.value for w in zh.warning]
    assert "Stopped; the checkpoint of epoch 3 is kept." in [w.value for w in en.warning]
    assert "folder:/imgs 中有 1 个文件被跳过：a.txt。" in [w.value for w in zh.warning]
    assert "1 file(s) in folder:/imgs were skipped: a.txt." in [w.value for w in en.warning]


def test_nested_phrases_of_a_library_error_translate_in_a_visitors_session():
    import errno

    from training.core.errors import as_user_error

    def script():
        import errno

        import streamlit as st

        from explorer.i18n import error_text
        from training.core.errors import as_user_error as convert

        err = convert(OSError(errno.ENOSPC, "No space left on device", "/runs/x/model.safetensors"))
        st.session_state["shown"] = error_text(err)

    err = as_user_error(OSError(errno.ENOSPC, "No space left on device", "/runs/x/model.safetensors"))
    assert str(err) == "Cannot use /runs/x/model.safetensors: the disk is full."
    at = AppTest.from_function(script, args=(), default_timeout=HANG_S)
    at.query_params["lang"] = "zh"
    at.session_state["lang"] = "zh"
    at.run()
    assert at.session_state["shown"] == "无法使用 /runs/x/model.safetensors：磁盘已满。"


def test_an_upload_refused_in_chinese_names_the_upload_in_chinese():
    def script():
        import streamlit as st

        from explorer.i18n import error_text
        from explorer.state.uploads import save_uploaded_run
        from training.core.config import RunConfig
        from training.core.errors import UserError

        config = RunConfig(model={"image_shape": (1, 8, 8), "latent_dim": 2, "hidden": (16,)},
                           train={"dataset": "digits"})
        try:
            save_uploaded_run(config.to_json().encode(), b"\0" * 68, "/nonexistent-runs", "x")
        except UserError as err:
            st.session_state["en"], st.session_state["zh"] = str(err), error_text(err)

    at = AppTest.from_function(script, default_timeout=HANG_S)
    at.session_state["lang"] = "zh"
    at.query_params["lang"] = "zh"
    at.run()
    assert at.session_state["en"].startswith("The uploaded weights file does not match the config: it is 68 bytes")
    assert at.session_state["zh"].startswith("上传的权重文件与配置不符：它有 68 字节")


def test_an_invalid_uploaded_config_is_explained_in_chinese_down_to_the_bound():
    def script():
        import streamlit as st

        from explorer.i18n import error_text
        from explorer.state.uploads import save_uploaded_run
        from training.core.errors import UserError

        try:
            save_uploaded_run(b'{"model": {"latent_dim": 0}, "train": {}}', b"\\0" * 68, "/nonexistent-runs", "x")
        except UserError as err:
            st.session_state["en"], st.session_state["zh"] = str(err), error_text(err)

    at = AppTest.from_function(script, default_timeout=HANG_S)
    at.session_state["lang"] = "zh"
    at.run()
    assert at.session_state["en"] == "The uploaded config is invalid: model.latent_dim = 0: it must be at least 1."
    assert at.session_state["zh"] == "上传的配置无效：model.latent_dim = 0：它必须至少为 1。"

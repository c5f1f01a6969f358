"""The visitor's language: English or Simplified Chinese, per visitor, from gettext catalogues.

Every visible string of the app is written in English in the code and marked ``_("...")``; its
Chinese lives in ``explorer/locale/zh/LC_MESSAGES/messages.po``, the file translators and their tools
(Poedit, Weblate, ``pybabel``) know. The catalogue is read once per process with Babel and turned
into a standard ``gettext.GNUTranslations``; the language is chosen per visitor (``st.session_state``),
never process-wide, so two visitors in two languages each see their own.

The language of a visitor: the URL's ``?lang=zh`` / ``?lang=en`` if present, else the one chosen in
the sidebar, else the browser's (``st.context.locale``: any ``zh*`` gives Chinese). Strings with
values use named fields, ``_("Epoch {epoch} of {epochs}").format(epoch=3, epochs=20)``, so a
translation may put them in its own order. ``N_`` marks a string for the catalogue where it is
defined and ``_`` translates it where it is shown.

To add or change strings: mark them in the code, run ``python -m explorer.i18n --update`` (the
catalogue gains the new strings, untranslated, and loses the unused ones), translate the empty
``msgstr`` entries. ``python -m explorer.i18n`` alone lists what is missing, untranslated or unused;
``tests/test_i18n.py`` fails on any of them.
"""

from __future__ import annotations

import datetime
import gettext
import io
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import streamlit as st

LANGS = ("en", "zh")
NAMES = {"en": "English", "zh": "中文"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
KEY = "lang"           # st.session_state: this visitor's language
PARAM = "lang"         # the URL's query parameter
PSEUDO_ENV = "VAE_EXPLORER_PSEUDO_LOCALE"  # tests: wrap every translated string to find unmarked ones
KEYWORDS = {"_": None, "N_": None, "UserError": None, "reason": None, "sentence": None, "Phrase": None}  # what extraction looks for
CLI_ONLY = ("cli", "__main__.py")  # the command line (training/cli/) stays in English: its sentences need no catalogue
CATALOGUE_DATE = datetime.datetime(2026, 11, 29, tzinfo=datetime.timezone.utc)  # fixed: no churn on update


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of LANG as a standard gettext object (English: the code's own strings)."""
    if lang == "en":
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def from_locale(locale: str | None) -> str:
    """'zh-CN', 'zh_TW', 'zh' -> zh; anything else (or nothing) -> en."""
    return "zh" if isinstance(locale, str) and locale.lower().startswith("zh") else "en"


def current() -> str:
    """This visitor's language (decided once per session, then kept in its state)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:  # no visitor: a helper called from a test or a script
        return "en"
    asked = st.query_params.get(PARAM)
    if asked in LANGS and st.session_state.get(KEY) != asked:
        st.session_state[KEY] = asked
    if st.session_state.get(KEY) not in LANGS:
        st.session_state[KEY] = from_locale(getattr(st.context, "locale", None))
    return st.session_state[KEY]


def _(message: str) -> str:
    """MESSAGE in this visitor's language."""
    text = translations(current()).gettext(message)
    return _pseudo(text)


_public: list[Callable[[str], str]] = []  # how sentences name server paths: set by the app on every run


def show_paths_with(public: Callable[[str], str] | None) -> None:
    """Set by explorer/app.py on every run: served to others, the library's sentences name no server path and
    no process (explorer/state/serving.py public_text); None: as they are (one's own machine)."""
    _public[:] = [public] if public is not None else []


def public(text: str) -> str:
    """TEXT as this server lets its visitors read it (the one home of that rewriting for the library's words)."""
    return _public[0](text) if _public else text


def words(template: str | None, values: dict | None, english: str) -> str:
    """A sentence the library keeps as a template and its values (a status reason, a data note) in the
    visitor's language; ENGLISH when it has no template or the translation does not fit its values."""
    if not template:
        return public(english)
    try:
        text = _(template).format(**(values or {}))
    except (KeyError, IndexError, ValueError):
        return public(english)
    return public(tight(text) if current() == "zh" else text)


def error_text(err: BaseException, nested: bool = False) -> str:
    """A one-sentence error from the library (training.core.errors.UserError) in the visitor's language. Its
    values may be words themselves (a Phrase, or another UserError inside "... is not allowed: ..."):
    those are translated too."""
    from training.core.errors import Phrase, capitalised, starts_with_words

    template, values = getattr(err, "template", None), getattr(err, "values", None)
    if not isinstance(template, str):
        return public(str(err))
    shown = {k: error_text(v, nested=True) if isinstance(v, BaseException) else _(v) if isinstance(v, Phrase) else v
             for k, v in (values or {}).items()}
    text = words(template, shown, str(err))
    return capitalised(text) if not nested and starts_with_words(template, values or {}) else text


def N_(message: str) -> str:
    """Mark MESSAGE for the catalogue without translating it here (translate where it is shown)."""
    return message


# A config keeps the names ("bernoulli", "conv"); a visitor reads words (captions, the picker, the charts).
LIKELIHOOD_WORDS = {"bernoulli": N_("Bernoulli"), "gaussian": N_("Gaussian"),
                    "gaussian-learned": N_("Gaussian, learned σ̃")}
ARCH_WORDS = {"mlp": N_("fully connected"), "conv": N_("convolutional")}


def uploader_words(limit_mb: int) -> None:
    """Streamlit writes its file uploaders' own words in English and with the server's limit ("Upload", "64MB per
    file • JSON"); the page writes them in the visitor's language with LIMIT_MB, the limit its uploaders keep (the
    file types are in each uploader's label). One limit per page: every uploader on it is drawn with these words."""
    button = _("Upload").replace('"', "")
    limit = _("{mb} MB per file").format(mb=limit_mb).replace('"', "")
    st.html(f"""<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{ font-size: 0; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {{
  content: "{button}"; font-size: 0.875rem; }}
[data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; }}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{ content: "{limit}"; font-size: 0.875rem; }}
</style>""")


def likelihood_word(name: str) -> str:
    """The decoder's likelihood (a config's name) in the visitor's language."""
    return _(LIKELIHOOD_WORDS[name]) if name in LIKELIHOOD_WORDS else name


def arch_word(name: str) -> str:
    """The architecture (a config's name) in the visitor's language."""
    return _(ARCH_WORDS[name]) if name in ARCH_WORDS else name


_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
_SPACE_IN_CHINESE = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")


def tight(text: str) -> str:
    """Chinese puts no space between two of its characters: a template's space before or after a field
    ("{source} 无效") that a Chinese phrase filled ("上传的配置") goes; one beside a name or a number stays."""
    return _SPACE_IN_CHINESE.sub("", text)


def _pseudo(text: str) -> str:
    import os

    return f"⟦{text}⟧" if os.environ.get(PSEUDO_ENV) == "1" else text


def switch() -> None:
    """The sidebar's language switch: keeps the page, the model and the latent point (they live in the
    session), and writes the choice into the URL so that a copied link opens in it."""
    lang = current()
    st.session_state.setdefault("lang_switch", lang)
    if st.session_state["lang_switch"] != lang:  # the URL or the browser decided since the last run
        st.session_state["lang_switch"] = lang

    def chosen() -> None:
        picked = st.session_state["lang_switch"] or lang
        st.session_state[KEY] = picked
        st.query_params[PARAM] = picked

    st.sidebar.segmented_control("Language / 语言", LANGS, format_func=NAMES.get, key="lang_switch",
                                 on_change=chosen, label_visibility="collapsed")


# ---------------------------------------------------------------- the catalogue and the code
def extracted() -> dict[str, list[str]]:
    """Every string marked in explorer/ and every UserError sentence of training/ (but the command line's)
    (msgid -> where), as Babel's extractor finds them."""
    from babel.messages.extract import extract_from_dir

    found: dict[str, list[str]] = {}
    for folder in ("explorer", "training"):
        root = Path(__file__).resolve().parent.parent / folder
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(root), method_map=[("**.py", "python")], keywords=KEYWORDS):
            if isinstance(message, str) and message and Path(filename).parts[0] not in CLI_ONLY:
                found.setdefault(message, []).append(f"{folder}/{filename}:{lineno}")
    from training.core.config import ModelConfig, TrainConfig  # the settings' titles and help label the Train form

    for section in (ModelConfig, TrainConfig):
        for name, field in section.model_fields.items():
            for message in (field.title, field.description):
                if message:
                    found.setdefault(message, []).append(f"training/core/config.py:{section.__name__}.{name}")
    return found


def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation of LANG's catalogue (untranslated entries map to '')."""
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as f:
        return {m.id: m.string for m in read_po(f, locale=lang) if m.id}


def update(lang: str = "zh") -> None:
    """Rewrite LANG's catalogue from the code: every marked string, in the order of the code, keeping the
    translations it has and dropping entries the code no longer uses (what ``pybabel extract`` followed
    by ``pybabel update --no-fuzzy-matching --ignore-obsolete`` does)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    path = catalogue_path(lang)
    known = catalogue(lang) if path.is_file() else {}
    fresh = Catalog(locale=lang, project="vae-explorer", version="0.1.0", charset="utf-8",
                    copyright_holder="the vae-explorer authors", msgid_bugs_address="(the project's issues)",
                    last_translator="the vae-explorer authors", language_team="zh", fuzzy=False,
                    creation_date=CATALOGUE_DATE, revision_date=CATALOGUE_DATE)
    fresh.header_comment = "# Simplified Chinese for vae-explorer's app (explorer/). Written in the project's own words.\n#"
    for message, places in extracted().items():
        locations = [(where, int(line)) if line.isdigit() else (f"{where}:{line}", 0)
                     for where, line in (p.rsplit(":", 1) for p in places)]
        fresh.add(message, known.get(message, ""), locations=locations)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, fresh, width=100, omit_header=False, sort_output=False)


if __name__ == "__main__":  # python -m explorer.i18n [--update]: what the catalogue lacks and holds unused
    import sys

    if "--update" in sys.argv:
        update("zh")
    code, zh = extracted(), catalogue("zh")
    for message in sorted(set(code) - set(zh)):
        print(f"missing: {message!r}  ({code[message][0]})")
    for message in sorted(m for m in zh if not zh[m] and m in code):
        print(f"untranslated: {message!r}")
    for message in sorted(set(zh) - set(code)):
        print(f"unused: {message!r}")

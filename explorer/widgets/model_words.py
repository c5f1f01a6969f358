"""How a model is named in words, wherever the app names one: the picker's option, the line under it, a
card's caption. A run of this library is a "run" with its β; a model from elsewhere (ONNX graphs, one's
own code) had no training here, so it is named by its kind and has no β."""

from __future__ import annotations

from explorer.i18n import N_, _, arch_word, likelihood_word, public
from training.models.catalogue import RunSummary
from training.models.open import ADAPTER, ONNX, RUN, model_kind

FOREIGN_KINDS = {ONNX: N_("ONNX graphs"), ADAPTER: N_("your own code")}
NBSP = "\u00a0"  # "β = 1" and "z = 16" are never broken over two lines
PICKER_COLUMNS = 26  # what the sidebar's picker box shows on one line at its default width, in Latin letters
STATE_WORDS = {"queued": N_("queued"), "running": N_("running"), "stopped": N_("stopped"), "failed": N_("failed"),
               "interrupted": N_("interrupted")}


def is_foreign(run: RunSummary) -> bool:
    """A model from elsewhere: no training history of ours, no β."""
    return model_kind(run.path) != RUN


def kind_word(run: RunSummary) -> str:
    """demo, run, ONNX graphs or your own code, in the visitor's language."""
    kind = model_kind(run.path)
    if kind != RUN:
        return _(FOREIGN_KINDS.get(kind, FOREIGN_KINDS[ADAPTER]))
    return _("demo") if run.bundled else _("run")


def columns(text: str) -> int:
    """How wide TEXT is in Latin letters (a Chinese character is two)."""
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def fitted_name(name: str, most: int) -> str:
    """NAME in at most MOST characters, its start and its end kept ('my-onnx-expor…-two-demo'): a run's name
    is told by both (data set and size in front, β or time behind)."""
    if len(name) <= most:
        return name
    tail = (most - 1) // 3
    return f"{name[:most - 1 - tail]}…{name[-tail:]}"


def short_label(run: RunSummary) -> str:
    """The picker's option, short enough for one line of the sidebar: the name and a compact tag ('mnist5k-z16 ·
    demo', 'my-export · ONNX', 'beta4 · running'); the whole description is under the picker."""
    kind = model_kind(run.path)
    if kind != RUN:
        tag = "ONNX" if kind == ONNX else _("your code")
    elif run.state != "finished":
        tag = _(STATE_WORDS.get(run.state, run.state))
    else:
        tag = _("demo") if run.bundled else ""
    name = fitted_name(run.name, max(12, PICKER_COLUMNS - (columns(tag) + 3 if tag else 0)))
    return public(f"{name} · {tag}" if tag else name)


def details(run: RunSummary) -> str:
    """The whole description in words, for the line under the picker: 'mnist5k-z16: demo, data set mnist5k,
    16 latent dimensions, Bernoulli decoder, β = 1' (no β for a model from elsewhere)."""
    values = dict(name=run.name, kind=kind_word(run), dataset=run.dataset, z_dim=run.latent_dim,
                  likelihood=likelihood_word(run.likelihood))
    if is_foreign(run):
        text = _("{name}: {kind}, data set {dataset}, {z_dim} latent dimensions, {likelihood} decoder").format(**values)
    else:
        text = _("{name}: {kind}, data set {dataset}, {z_dim} latent dimensions, {likelihood} decoder, "
                 "β = {beta}").format(**values, beta=f"{run.beta:g}")
    if run.state != "finished":
        text += " · " + _(STATE_WORDS.get(run.state, run.state))
    return public(text.replace("β = ", f"β{NBSP}={NBSP}"))


def caption(run: RunSummary) -> str:
    """A card's one line: 'mnist5k · fully connected · z = 16 · Bernoulli · β = 1'; a model from elsewhere:
    'mnist5k · ONNX graphs · z = 16 · Bernoulli'."""
    if is_foreign(run):
        parts = [run.dataset, kind_word(run), f"z{NBSP}={NBSP}{run.latent_dim}", likelihood_word(run.likelihood)]
    else:
        parts = [run.dataset, arch_word(run.arch), f"z{NBSP}={NBSP}{run.latent_dim}", likelihood_word(run.likelihood),
                 f"β{NBSP}={NBSP}{run.beta:g}"]
    return public(" · ".join(parts))


def graph_note(roles) -> str | None:
    """How an ONNX pair was read, when it is not as the library writes one (ROLES: a Run's ``roles``): images
    channels last, a decoder that gives logits; None for every other model."""
    if roles is None:
        return None
    notes = []
    if roles.layout == "nhwc" or roles.decoder_layout == "nhwc":
        notes.append(_("Its graphs take images channels last (height, width, channels); they are transposed at the "
                       "boundary."))
    if roles.decoder_output == "logits":
        notes.append(_("Its decoder gives logits, not probabilities; the sigmoid is applied to them."))
    return " ".join(notes) or None

"""t-SNE and UMAP of more than ``IN_SERVER_MAX`` points on the Latent map: computed in a background process of
their own (training/jobs/embedding_job.py), never in the server, and kept in the map cache; until they are done
the map draws PCA and one line above it says so, following the process's progress.

At or below ``IN_SERVER_MAX`` points the page computes them itself, as it always has (training/analysis/
map_cache.py ``cached``). The line is a fragment that reruns every ``EVERY_S`` while the process runs and reruns
the whole page once it has ended (done or failed), after which nothing reruns by itself.
"""

from __future__ import annotations

import re
import weakref

import numpy as np
import streamlit as st

from explorer.i18n import N_, _, error_text, words
from training.analysis import embedding, map_cache
from training.core.errors import UserError
from training.jobs import embedding_job
from training.jobs.embedding_job import DONE, FAILED, NONE, WAITING

IN_SERVER_MAX = embedding.MAX_POINTS  # above this many points t-SNE and UMAP run in a background process
EVERY_S = 1.0                          # the progress line's refresh while one runs
LABELS = {"tsne": "t-SNE", "umap": "UMAP"}
STAGES = {"starting": N_("starting"), "neighbours": N_("neighbours"), "fuzzy graph": N_("fuzzy graph"),
          "early exaggeration": N_("early exaggeration"), "optimising": N_("optimising"), "saving": N_("saving"),
          "done": N_("done"), "failed": N_("failed")}


def in_background(n: int, method: str) -> bool:
    """Whether METHOD of N points runs in a background process rather than in the server."""
    return method in LABELS and n > IN_SERVER_MAX


def method_shown(mu: np.ndarray, method: str, seed: int, perplexity: float) -> str:
    """The projection to draw now: METHOD, or "pca" while METHOD (t-SNE or UMAP of more than IN_SERVER_MAX
    points) runs in its background process, waits for one, or failed; started here if it has not been, and
    said in a line (above the map, where this is called)."""
    if not in_background(len(mu), method):
        return method
    name = _key(mu, method, seed, perplexity)
    if map_cache.load(name, len(mu), touch=False) is not None:
        return method  # done: map_cache.cached reads it
    try:
        state = embedding_job.start(mu, method, seed, perplexity)
    except (OSError, UserError) as err:  # the cache folder cannot be written: no process, no embedding
        _say_failed(method, len(mu), error_text(err) if isinstance(err, UserError) else str(err))
        return "pca"
    if state.state == DONE:
        return method
    if state.state == FAILED:
        _say_failed(method, len(mu), words((state.error or {}).get("reason_template"),
                                           (state.error or {}).get("reason_values"), (state.error or {}).get("reason", "")))
        st.button(_("Run {method} again").format(method=LABELS[method]), key="map_embedding_again",
                  on_click=_again, args=(mu, method, seed, perplexity))
        return "pca"
    _follow(mu, name, method, seed, perplexity)
    return "pca"


def sentence(state: embedding_job.JobState, method: str, n: int) -> str:
    """The line above the map while METHOD of N points is not done yet."""
    if state.state in (WAITING, NONE):
        return _("{method} of all {n} points waits for another background embedding to finish; the map shows PCA "
                 "until it is done.").format(method=LABELS[method], n=f"{n:,}")
    minutes, seconds = divmod(int(state.seconds), 60)
    return _("{method} of all {n} points is running in a background process ({percent}%, {stage}, {minutes} min "
             "{seconds} s so far); the map shows PCA until it is done.").format(
        method=LABELS[method], n=f"{n:,}", percent=int(100 * state.fraction), stage=stage_words(state.stage),
        minutes=minutes, seconds=seconds)


def stage_words(stage: str) -> str:
    """A stage as the process writes it ("optimising 120/300") in the visitor's language."""
    found = re.fullmatch(r"(.*?)(?: (\d+/\d+))?", stage.strip())
    name, count = (found.group(1), found.group(2)) if found else (stage, None)
    said = _(STAGES[name]) if name in STAGES else name
    return f"{said} {count}" if count else said


@st.fragment(run_every=EVERY_S)
def _follow(mu: np.ndarray, name: str, method: str, seed: int, perplexity: float) -> None:
    state = embedding_job.status(name)
    if state.state == NONE:  # waiting for a free slot: ask again
        state = embedding_job.start(mu, method, seed, perplexity)
    if state.state in (DONE, FAILED):
        st.rerun(scope="app")  # the map draws the embedding, or says why not; this line is not drawn again
    st.info(sentence(state, method, len(mu)), icon=":material/hourglass_top:")


_keys: dict[tuple, tuple[weakref.ref, str]] = {}


def _key(mu: np.ndarray, method: str, seed: int, perplexity: float) -> str:
    """map_cache.key of MU, hashed once per array (47 MB for 737,280 points: not at every click on the map)."""
    kept = _keys.get((id(mu), method, seed, perplexity))
    if kept is not None and kept[0]() is mu:
        return kept[1]
    name = map_cache.key(mu, method, seed, perplexity)
    if len(_keys) > 64:
        _keys.clear()
    _keys[(id(mu), method, seed, perplexity)] = (weakref.ref(mu), name)
    return name


def _say_failed(method: str, n: int, why: str) -> None:
    st.warning(_("{method} of all {n} points failed in its background process ({error}); the map shows PCA.").format(
        method=LABELS[method], n=f"{n:,}", error=why.rstrip(". ")))


def _again(mu: np.ndarray, method: str, seed: int, perplexity: float) -> None:
    try:
        embedding_job.start(mu, method, seed, perplexity, again=True)
    except (OSError, UserError):
        pass  # said again on the rerun

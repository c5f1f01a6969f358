"""What a model makes of inputs, computed once and kept: one input's reading (training/analysis/one_input.py), and
its test set as the reference an input is placed among: mu(x) of every test image (E3) and the -ELBO of each (E1).

Cached with ``st.cache_data`` keyed by the run folder and the digest of its weights (explorer/state/shared.py) and,
for the test set, the name of its test images (``shared.test_set_id``): a retrained model is measured again, an
unchanged one never is.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.i18n import N_, _, error_text
from explorer.state import shared
from training.core.errors import UserError
from training.models.base import NO_DATASET

if TYPE_CHECKING:
    from training.analysis.one_input import Reading
    from training.models.base import Run

KEPT_SPLITS = 4  # encoded splits this server keeps in memory (in front of the disk cache)
K = 8            # samples z = mu + sigma * eps shown and averaged (E7)
IWAE_K = 100     # samples of the importance-weighted estimate of -ln q(x)
NO_TEST_SET = N_("This model does not name its data set, so there are no test images to pick from or to compare "
                 "with.")


@dataclass(frozen=True)
class TestSet:
    """A model's test images (N, C, H, W) as it is scored on them, their labels (or None) and the labels' names;
    or, when the data set cannot be loaded, ``x`` None and ``why`` the sentence that says so."""
    x: object = None
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    why: str | None = None
    data: object = None  # the training.data.Dataset, whose ``test_label`` names a test image

    def label(self, index: int) -> str | None:
        """Test image INDEX's class name (shapes: its shape), or None without labels."""
        return None if self.data is None else self.data.test_label(index)


def test_set(run: Run) -> TestSet:
    """RUN's test images, or a TestSet that says in one sentence why there are none (the page goes on without)."""
    if run.config.train.dataset == NO_DATASET:
        return TestSet(why=_(NO_TEST_SET))
    try:
        data = shared.data_of(run)
    except UserError as err:
        return TestSet(why=_("The model's data set cannot be loaded, so there are no test images to pick from or to "
                             "compare with: {why}").format(why=error_text(err)))
    labels = None if data.y_test is None else data.y_test.numpy()
    if labels is not None and data.labels_are_factors:
        labels = None  # factors, not classes: no one label to name a neighbour by
    return TestSet(x=shared.current_test_images(run, data), labels=labels, label_names=data.label_names, data=data)


@st.cache_data(max_entries=32, show_spinner=False)
def _reading(path: str, digest: str, x_digest: str, seed: int, _model, _x: np.ndarray) -> Reading:
    import torch

    from training.analysis.one_input import read_input

    return read_input(_model, torch.from_numpy(np.ascontiguousarray(_x, dtype=np.float32)), k=K, iwae_k=IWAE_K,
                      seed=seed)


def reading(run: Run, x: np.ndarray, seed: int) -> Reading:
    """What RUN's model makes of X (C, H, W) in [0, 1] with the samples' SEED; UserError (one sentence) when its
    encoder gives no finite posterior."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    x_digest = hashlib.sha256(x.tobytes() + str(x.shape).encode()).hexdigest()
    return _reading(str(run.path), shared.weights_digest(run.path), x_digest, int(seed), run.model, x)


@st.cache_data(max_entries=8, show_spinner=False)
def _test_mu(path: str, digest: str, test_set_id: str, _model, _x) -> np.ndarray:
    from training.analysis import latent

    return latent.encode_dataset(_model, _x)


def test_mu(run: Run, x_test, digest: str | None = None) -> np.ndarray:
    """mu(x) of every test image (E3), (N, Z): once per model and test set; the Latent map and the Your image page
    share it. DIGEST names the weights RUN's model holds (an earlier epoch's on the map), the latest by default."""
    return _test_mu(str(run.path), digest or shared.weights_digest(run.path), shared.test_set_id(run), run.model,
                    x_test)


@st.cache_data(max_entries=8, show_spinner=False)
def _test_neg_elbos(path: str, digest: str, test_set_id: str, _model, _x) -> np.ndarray:
    from training.analysis.one_input import test_neg_elbos

    return test_neg_elbos(_model, _x, k=K)


def test_neg_elbos(run: Run, x_test) -> np.ndarray:
    """The -ELBO of (the first test images), estimated as an input's is: the reference of its percentile."""
    return _test_neg_elbos(str(run.path), shared.weights_digest(run.path), shared.test_set_id(run), run.model,
                           x_test)


@st.cache_resource(show_spinner=False)
def _kept_splits() -> tuple[OrderedDict, threading.Lock]:
    """The last KEPT_SPLITS splits' mu, shared by every visitor (read-only arrays), with its lock."""
    return OrderedDict(), threading.Lock()


def split_mu(run: Run, split: str, x, digest: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """mu(x) (E3) of SPLIT's images X of RUN's data set (the Latent map's points), (N, Z): from this server's
    memory, else from the disk cache (per weights, split and data set: training/analysis/encodings.py), else
    encoded in chunks calling PROGRESS(done, total). DIGEST: the weights RUN's model holds (the latest by default).
    Not an ``st.cache_data``: the progress bar it draws is the page's, not replayed."""
    from training.analysis import encodings

    digest, data_id = digest or shared.weights_digest(run.path), shared.test_set_id(run)
    name = (str(run.path), digest, data_id, split)
    kept, lock = _kept_splits()
    with lock:
        if name in kept:
            kept.move_to_end(name)
            return kept[name]
    mu, _hit = encodings.cached_encodings(digest, split, data_id, (len(x), run.config.model.latent_dim),
                                          lambda: encodings.encode_split(run.model, x, progress))
    mu.setflags(write=False)
    with lock:
        kept[name] = mu
        while len(kept) > KEPT_SPLITS:
            kept.popitem(last=False)
    return mu

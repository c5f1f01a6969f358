"""Neighbour embeddings of mu(x) for the latent map: t-SNE (openTSNE) and UMAP (umap-learn).

Both keep the points that are near in z near in the plane, and neither has a map back from the plane
to z (no manifold grid). Up to ``MAX_POINTS`` points both start from the same exact k-nearest-neighbour
graph, computed by scikit-learn in the 2 to 64 dimensions of z: that is faster than building an
approximate index and it is exact. Above it (a background process of its own: training/jobs/
embedding_job.py) the exact search is O(N^2), and the neighbours are approximate: openTSNE's own annoy
for t-SNE, pynndescent (UMAP's own) for UMAP. ``progress(fraction, stage)`` is told how far each has come.

Why these two libraries (docs/benchmarks.md#latent-map-10000-points): openTSNE (Poličar, Stražar and
Zupan) is the maintained FFT-accelerated t-SNE (Linderman et al. 2019), O(N) per iteration and
multi-threaded, where scikit-learn's Barnes-Hut is O(N log N); umap-learn is UMAP's reference
implementation by its authors. Measured on this project's 2-core machine for 10,000 points, in a fresh
process: scikit-learn t-SNE 31 s, openTSNE here 7.2 s, UMAP here 8.0 s (2.9 s once numba has compiled
its layout step in that process). With approximate neighbours, on a 16-dimensional mixture of 10 Gaussians,
2 threads, niced, the machine busy (load 2 to 7 on its 2 cores): 100,000 points t-SNE 88 s (neighbours 44 s),
UMAP 109 s (neighbours, with numba compiling, 60 s); 200,000 points t-SNE 443 s (neighbours 155 s), UMAP 255 s
(neighbours 126 s).

Settings differ from the libraries' defaults only where it buys time without visible harm: openTSNE
runs 250 early-exaggeration iterations then ``TSNE_ITERATIONS`` (300; its default is 500) with the learning rate
N/12 (Belkina et al. 2019), which converges in fewer iterations; UMAP runs 200 epochs (its own default
above 10,000 points) from a PCA start. Both are seeded: the same mu gives the same picture.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable

import numpy as np

from training.core.numbers import whole_number

MAX_POINTS = 10_000           # exact neighbours up to this many points; above, approximate ones
TSNE_EXAGGERATION_ITERATIONS = 250
TSNE_ITERATIONS = 300
UMAP_EPOCHS = 200
UMAP_NEIGHBOURS = 15
CALLBACK_EVERY = 10           # t-SNE iterations between two progress reports
TSNE_SHARES = (0.45, 0.25)    # fractions of a t-SNE's time: its neighbours, its early exaggeration (then the rest)
UMAP_SHARES = (0.5, 0.05)     # of a UMAP's: its neighbours, its fuzzy graph and start (then the epochs)

Progress = Callable[[float, str], None]


def _quiet(fraction: float, stage: str) -> None:
    pass


def threads() -> int:
    """Threads for the neighbour search and the layout: the machine's cores, at most 4 (the server's
    other visitors need some), and no more than OMP_NUM_THREADS where the operator set it: threads that
    outnumber the cores free for them spin and slow everything (a t-SNE of 12 points took 47 s instead
    of 2 s beside three other busy processes on 2 cores)."""
    limit = whole_number(os.environ.get("OMP_NUM_THREADS")) or 4
    return max(1, min(4, limit, os.cpu_count() or 1))


def knn(mu: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The K nearest neighbours of every point of MU (N, Z), itself first: indices and distances (N, K)."""
    from sklearn.neighbors import NearestNeighbors

    k = max(1, min(int(k), len(mu)))
    search = NearestNeighbors(n_neighbors=k, algorithm="auto", n_jobs=threads()).fit(mu)
    distances, indices = search.kneighbors(mu)
    return indices, distances.astype(np.float32)


def exact_neighbours(n: int) -> bool:
    """Whether N points get the exact neighbour search (up to MAX_POINTS) or an approximate one."""
    return n <= MAX_POINTS


def tsne(mu: np.ndarray, seed: int = 0, perplexity: float = 30.0, progress: Progress = _quiet) -> np.ndarray:
    """t-SNE of MU (N, Z) -> (N, 2), FFT-accelerated (openTSNE); perplexity clipped below N / 3."""
    from openTSNE import TSNEEmbedding, affinity, initialization

    mu = _points(mu, "t-SNE")
    n = len(mu)
    perplexity = float(max(1.0, min(perplexity, (n - 1) / 3.0)))
    progress(0.0, "neighbours")
    affinities = affinity.PerplexityBasedNN(mu, perplexity=perplexity, method="exact" if exact_neighbours(n) else "annoy",
                                            n_jobs=threads(), random_state=seed)
    start = initialization.pca(mu, random_state=seed) if mu.shape[1] >= 2 else \
        initialization.random(n, random_state=seed)
    embedding = TSNEEmbedding(start, affinities, n_jobs=threads(), random_state=seed,
                              negative_gradient_method="fft" if n > 1000 else "bh")
    rate = max(n / 12.0, 200.0)
    knn_share, early_share = TSNE_SHARES
    for name, iterations, begin, share, settings in (
            ("early exaggeration", TSNE_EXAGGERATION_ITERATIONS, knn_share, early_share, {"exaggeration": 12, "momentum": 0.5}),
            ("optimising", TSNE_ITERATIONS, knn_share + early_share, 1.0 - knn_share - early_share, {"momentum": 0.8})):
        def report(i, _error, _embedding, name=name, iterations=iterations, begin=begin, share=share) -> bool:
            progress(begin + share * min(i, iterations) / iterations, f"{name} {min(i, iterations)}/{iterations}")
            return False  # never stop early

        progress(begin, f"{name} 0/{iterations}")
        embedding = embedding.optimize(iterations, learning_rate=rate, callbacks=report,
                                       callbacks_every_iters=CALLBACK_EVERY, **settings)
    return np.asarray(embedding, dtype=np.float32)


def umap(mu: np.ndarray, seed: int = 0, n_neighbors: int = UMAP_NEIGHBOURS, progress: Progress = _quiet) -> np.ndarray:
    """UMAP of MU (N, Z) -> (N, 2) (umap-learn), on the exact neighbour graph of :func:`knn` up to MAX_POINTS
    points, on pynndescent's approximate one above."""
    mu = _points(mu, "UMAP")
    n = len(mu)
    k = max(2, min(int(n_neighbors), n - 1))
    knn_share, graph_share = UMAP_SHARES
    progress(0.0, "neighbours")
    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state", numba's chatter
        warnings.simplefilter("ignore")
        import umap as umap_learn
        from umap.umap_ import nearest_neighbors

        if exact_neighbours(n):
            indices, distances = knn(mu, k)
            forest = None
        else:
            indices, distances, forest = nearest_neighbors(mu, k, "euclidean", {}, False, np.random.RandomState(seed),
                                                           n_jobs=threads())
        progress(knn_share, "fuzzy graph")
        epochs = _EpochReader(progress, knn_share + graph_share, 1.0 - knn_share - graph_share)
        reducer = umap_learn.UMAP(n_neighbors=k, n_epochs=UMAP_EPOCHS, init="pca" if mu.shape[1] >= 2 else "random",
                                  random_state=seed, precomputed_knn=(indices, distances, forest),
                                  tqdm_kwds={"disable": False, "file": epochs, "bar_format": "{n}/{total}\n",
                                             "mininterval": 0.5})
        coords = reducer.fit_transform(mu)
    return np.asarray(coords, dtype=np.float32)


class _EpochReader:
    """The file UMAP's epoch bar (tqdm) writes to: each "n/total" it writes is told to PROGRESS."""

    def __init__(self, progress: Progress, begin: float, share: float):
        self.progress, self.begin, self.share = progress, begin, share

    def write(self, text: str) -> None:
        for done, total in re.findall(r"(\d+)/(\d+)", text):
            done, total = int(done), max(1, int(total))
            self.progress(self.begin + self.share * min(done, total) / total, f"optimising {done}/{total}")

    def flush(self) -> None:
        pass


def _points(mu: np.ndarray, name: str) -> np.ndarray:
    mu = np.ascontiguousarray(mu, dtype=np.float32)
    if mu.ndim != 2 or len(mu) < 4:
        raise ValueError(f"{name} needs at least 4 points in a 2-D array; got shape {mu.shape}.")
    return mu

"""Principal directions of a set of encodings (issue 27, item 3): GANSpace's idea, PCA of mu, as sliders.

The test encodings mu (E3), or a selection of them, have a mean m and a covariance whose eigenvectors v_1, v_2, ...
(the rows of V, orthonormal) are the directions of largest variance, lambda_1 >= lambda_2 >= ... A slider c_j moves
z along v_j in units of the standard deviation sd_j = sqrt(lambda_j) of the encodings along it:

    z(c) = m + sum_j c_j sd_j v_j,        c = 0 is the mean; c_j = +-2 reaches where few encodings lie.

Each direction's share of the variance is lambda_j / sum(lambda). Signs are fixed (the largest entry of each v_j is
positive); with two latent dimensions the second is turned so that det V = +1: V is then a rotation of the plane,
and the sliders are the plane's own coordinates turned by an angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.errors import UserError

MAX_DIRECTIONS = 8  # sliders shown at most: the first directions carry most of the variance
MIN_SHARE = 0.005   # a direction explaining less of the variance (an unused dimension's) is not offered


@dataclass(frozen=True)
class Principal:
    mean: np.ndarray     # (Z,) m
    vectors: np.ndarray  # (k, Z) v_j, orthonormal rows
    sd: np.ndarray       # (k,) sqrt(lambda_j)
    share: np.ndarray    # (k,) lambda_j / sum of all lambda
    count: int           # encodings they were found from

    def point(self, coefficients) -> np.ndarray:
        """z(c) = m + sum_j c_j sd_j v_j for the first len(c) directions: (Z,) float32."""
        c = np.asarray(coefficients, np.float64).reshape(-1)
        k = len(c)
        return (self.mean + (c * self.sd[:k]) @ self.vectors[:k]).astype(np.float32)

    def coefficients(self, z) -> np.ndarray:
        """c of the point of the principal subspace nearest z (the inverse of ``point`` on that subspace)."""
        sd = np.where(self.sd > 0, self.sd, 1.0)
        return ((np.asarray(z, np.float64) - self.mean) @ self.vectors.T) / sd


def principal(mu: np.ndarray, k: int = MAX_DIRECTIONS) -> Principal:
    """The first K principal directions of MU (N, Z), at most Z and N - 1 of them."""
    mu = np.asarray(mu, np.float64)
    n, z_dim = mu.shape
    if n < 2:
        raise UserError("Principal directions need at least two encodings; this group holds {n}.", n=n)
    mean = mu.mean(axis=0)
    _, s, vt = np.linalg.svd(mu - mean, full_matrices=False)
    lam = s ** 2 / (n - 1)
    total = float(lam.sum())
    if not total > 0:
        raise UserError("These {n} encodings are all the same point: they have no principal directions.", n=n)
    k = max(1, min(int(k), z_dim, n - 1, int((lam / total >= MIN_SHARE).sum())))  # not the ones of no variance
    vectors = vt[:k].copy()
    for row in vectors:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    if z_dim == 2 and k == 2 and np.linalg.det(vectors) < 0:
        vectors[1] *= -1  # a rotation of the plane, not a reflection
    return Principal(mean, vectors, np.sqrt(lam[:k]), lam[:k] / total, n)

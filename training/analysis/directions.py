"""Directions in z between two groups of test images (issue 27, item 1), and how well they separate them.

A group is named as a link or the command line writes it: ``label:K`` (the test images of class K; a shapes set's
class is its first factor, the shape), ``FACTOR:LO..HI`` (those whose factor lies in [LO, HI], e.g.
``pos_x:0..0.3``) or a list of test indices ``17,42,99``. The direction from group A to group B is the difference
of their mean encodings, d = mean mu(B) - mean mu(A) (mu of E3: the posterior means). Along the unit vector
u = d / |d| each group's encodings project to numbers; how far apart the two groups lie is said twice:
- ``separation``: the distance of the projected means in units of the pooled standard deviation along u,
  (m_B - m_A) / s_pooled, with s_pooled^2 = ((n_A - 1) s_A^2 + (n_B - 1) s_B^2) / (n_A + n_B - 2);
- ``accuracy``: the share of both groups on their own side of the midpoint (m_A + m_B) / 2, a plain two-group
  classifier along u (0.5 is chance for equal groups).
A direction that separates nothing says so by these two figures, near 0 and near 0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from training.core.errors import UserError
from training.core.numbers import whole_number

LABEL = "label:"
ARROW = ">"  # a direction as a link writes it: FROM>TO (label:1>label:7)


@dataclass(frozen=True)
class Direction:
    direction: np.ndarray  # (Z,) mean mu(B) - mean mu(A)
    from_count: int
    to_count: int
    separation: float      # (m_B - m_A) / pooled sd along the direction
    accuracy: float        # share of both groups on their own side of the midpoint

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.direction))


def _factor_range(spec: str, factors: np.ndarray | None, factor_names) -> np.ndarray:
    name, _, bounds = spec.partition(":")
    names = list(factor_names or [])
    if factors is None or name not in names:
        if not names:
            raise UserError("The group {spec} names a factor, and this data set has none.", spec=spec)
        raise UserError("The group {spec} names the factor {name}, which this data set does not have; it has "
                        "{names}.", spec=spec, name=name, names=", ".join(names))
    low, sep, high = bounds.partition("..")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        lo = hi = math.nan
    if not sep or not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise UserError("The group {spec} needs a range LOW..HIGH of numbers, LOW at most HIGH (as pos_x:0..0.3).",
                        spec=spec)
    column = factors[:, names.index(name)]
    return np.flatnonzero((column >= lo) & (column <= hi))


@dataclass(frozen=True)
class Groups:
    """What groups of a data set's N test images can be named by: its labels (a shapes set's first factor) and its
    factors. The one reading of a data set's labels for groups: the command line, the Latent map and the
    Directions page use it."""

    n: int
    labels: np.ndarray | None = None
    factors: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()

    @classmethod
    def of(cls, data, n: int) -> "Groups":
        """From a training.data Dataset whose first N test images are the points."""
        y = None if data.y_test is None else np.asarray(data.y_test)[:n]
        if y is None:
            return cls(n)
        labels = (y[:, 0] if data.labels_are_factors else y).astype(np.int64)
        factors = y if data.labels_are_factors else None
        return cls(n, labels, factors, tuple(data.factor_names or ()) if factors is not None else ())

    def read(self, spec: str) -> np.ndarray:
        return group(spec, self.n, self.labels, self.factors, self.factor_names)


def pair(text: str) -> tuple[str, str]:
    """FROM and TO of a direction written FROM>TO (label:1>label:7); one sentence if it is not written so."""
    source, arrow, target = (text or "").partition(ARROW)
    if not arrow or not source.strip() or not target.strip() or ARROW in target:
        raise UserError("The direction {text} is not written FROM>TO, two groups around a > (as label:1>label:7).",
                        text=text or "''")
    return source.strip(), target.strip()


def written(source: str, target: str) -> str:
    return f"{source}{ARROW}{target}"


def group(spec: str, n: int, labels: np.ndarray | None = None, factors: np.ndarray | None = None,
          factor_names=None) -> np.ndarray:
    """The test indices (sorted, each once) that SPEC names among N test images; LABELS (N,) their classes,
    FACTORS (N, F) their factors named FACTOR_NAMES, where the data set has them. A spec that names nothing, or
    nothing that is there, is one sentence."""
    spec = (spec or "").strip()
    if spec.startswith(LABEL):
        k = whole_number(spec[len(LABEL):])
        if labels is None:
            raise UserError("The group {spec} names a label, and this data set has no labels.", spec=spec)
        if k is None:
            raise UserError("The group {spec} needs a whole number after label: (as label:7).", spec=spec)
        chosen = np.flatnonzero(np.asarray(labels) == k)
        if not len(chosen):
            raise UserError("The group {spec} holds no test images; the labels of these test images are {labels}.",
                            spec=spec, labels=", ".join(str(int(v)) for v in np.unique(labels)))
    elif ":" in spec:
        chosen = _factor_range(spec, factors, factor_names)
    else:
        numbers = [whole_number(v) for v in spec.split(",")] if spec else []
        if not numbers or any(i is None for i in numbers):
            raise UserError("The group {spec} is not label:K, FACTOR:LOW..HIGH or a list of test images like "
                            "17,42,99.", spec=spec or "''")
        if max(numbers) >= n:
            raise UserError("The group {spec} names test image {index}; there are {n} (0 to {last}).", spec=spec,
                            index=max(numbers), n=n, last=n - 1)
        chosen = np.asarray(numbers, dtype=np.int64)
    chosen = np.unique(chosen)
    if not len(chosen):
        raise UserError("The group {spec} holds no test images.", spec=spec)
    return chosen


def distinct(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A and B as sorted index arrays; one sentence if they are the same test images."""
    a, b = np.unique(np.asarray(a, dtype=np.int64)), np.unique(np.asarray(b, dtype=np.int64))
    if len(a) == len(b) and np.array_equal(a, b):
        raise UserError("The two groups are the same test images: there is no direction between them.")
    return a, b


def between(mu: np.ndarray, a: np.ndarray, b: np.ndarray) -> Direction:
    """The direction from the test images A to the test images B in MU (N, Z), and how it separates them."""
    a, b = distinct(a, b)
    mu = np.asarray(mu, dtype=np.float64)
    d = mu[b].mean(axis=0) - mu[a].mean(axis=0)
    length = float(np.linalg.norm(d))
    if not length > 1e-12:
        raise UserError("The two groups have the same mean mu: the direction between them has length zero.")
    u = d / length
    pa, pb = mu[a] @ u, mu[b] @ u
    dof = len(a) + len(b) - 2
    pooled = math.sqrt(((len(a) - 1) * pa.var(ddof=1 if len(a) > 1 else 0) +
                        (len(b) - 1) * pb.var(ddof=1 if len(b) > 1 else 0)) / dof) if dof > 0 else 0.0
    separation = (pb.mean() - pa.mean()) / pooled if pooled > 0 else math.inf
    middle = (pa.mean() + pb.mean()) / 2
    accuracy = (int((pa < middle).sum()) + int((pb > middle).sum())) / (len(a) + len(b))
    return Direction(d.astype(np.float32), len(a), len(b), float(separation), float(accuracy))


def along(z: np.ndarray, direction: np.ndarray, ts) -> np.ndarray:
    """z + t d for each t in TS: (len(TS), Z). The move-along control (one t), a traversal row along a direction
    and an analogy's steps (t from 0 to 1: mu(x) - mean mu(A) + mean mu(B) at t = 1) are all this line."""
    z, d = np.asarray(z, np.float64).reshape(-1), np.asarray(direction, np.float64).reshape(-1)
    return (z[None, :] + np.asarray(ts, np.float64).reshape(-1, 1) * d[None, :]).astype(np.float32)


def axis_projection(mu: np.ndarray, direction: np.ndarray, source: str = "A", target: str = "B"):
    """The plane (direction, first principal direction orthogonal to it) as a linear Projection of MU (N, Z): x the
    coordinate along the unit direction (the two groups separate along it), y the direction of largest variance
    of what is left; both from the mean of MU. Invertible like PCA: z = mean + coords @ components."""
    from training.analysis.latent import Projection

    mu = np.asarray(mu, np.float64)
    d = np.asarray(direction, np.float64).reshape(-1)
    u = d / np.linalg.norm(d)
    mean = mu.mean(axis=0)
    centred = mu - mean
    rest = centred - np.outer(centred @ u, u)
    _, s, vt = np.linalg.svd(rest, full_matrices=False)
    w = vt[0] - (vt[0] @ u) * u if len(s) and s[0] > 1e-12 else _any_orthogonal(u)
    w /= np.linalg.norm(w)
    if w[np.argmax(np.abs(w))] < 0:
        w = -w
    components = np.stack([u, w])
    coords = centred @ components.T
    total = float((centred ** 2).sum())
    share = tuple(float((coords[:, i] ** 2).sum() / total) if total > 0 else 0.0 for i in range(2))
    titles = (f"{source} \u2192 {target} ({100 * share[0]:.0f}% of variance)",
              f"PC1 orthogonal to it ({100 * share[1]:.0f}% of variance)")
    return Projection("axis", coords.astype(np.float32), titles, mu.shape[1], mean=mean, components=components,
                      variance_share=share)


def _any_orthogonal(u: np.ndarray) -> np.ndarray:
    """A unit vector orthogonal to U (a model of one dimension has none: then U itself, the plot's y is 0)."""
    if len(u) < 2:
        return u.copy()
    e = np.zeros_like(u)
    e[int(np.argmin(np.abs(u)))] = 1.0
    return e - (e @ u) * u

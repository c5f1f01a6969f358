"""What each latent dimension says about each known factor of the data (docs/theory.md, "Disentanglement").

For a data set whose images come with their true generative factors v_1..v_F (``shapes``: shape, scale,
rotation, x, y), the codes are the encoder's means mu(x) (E3) on the test set. Each code dimension z_k
and each factor v_f are discretised into at most ``BINS`` equal-width bins over their range (a factor
with at most ``BINS`` distinct values, such as the shape, keeps its own values), and

    I(z_k; v_f) = sum_{a,b} p(a, b) ln( p(a, b) / (p(a) p(b)) )          mutual information, nats
    H(v_f)      = -sum_b p(b) ln p(b)                                      the factor's entropy
    NMI[k, f]   = I(z_k; v_f) / H(v_f)                                   in [0, 1]: the share of v_f that z_k tells

from the joint histogram (the estimator of Chen et al. 2018 and disentanglement_lib). The mutual
information gap of a factor is the distance between the two dimensions that tell most about it,

    MIG_f = ( I(z_(1); v_f) - I(z_(2); v_f) ) / H(v_f),    MIG = mean_f MIG_f

(Chen, Li, Grosse and Duvenaud 2018, "Isolating sources of disentanglement in VAEs"): 1 when each
factor lives in exactly one dimension, 0 when it is spread evenly over two or more.

Naming a dimension (``label_of``): dimension k is named after factor f when f is the factor it tells
most about, it tells at least ``LABEL_MIN_NMI`` of f's entropy, and at least ``LABEL_MARGIN`` times what
it tells about any other factor. Otherwise it stays unnamed: a name is given only when it is clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BINS = 20
LABEL_MIN_NMI = 0.2
LABEL_MARGIN = 2.0


def discretize(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Integer codes of VALUES (N,): its own distinct values when there are at most BINS of them, else
    the index of one of BINS equal-width bins over [min, max]."""
    values = np.asarray(values, dtype=np.float64)
    distinct = np.unique(values)
    if len(distinct) <= bins:
        return np.searchsorted(distinct, values)
    edges = np.linspace(values.min(), values.max(), bins + 1)[1:-1]
    return np.digitize(values, edges)


def entropy(codes: np.ndarray) -> float:
    """H of the empirical distribution of integer CODES, in nats."""
    p = np.bincount(np.asarray(codes)) / len(codes)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) of two integer code arrays from their joint histogram, in nats."""
    a, b = np.asarray(a), np.asarray(b)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= len(a)
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


@dataclass(frozen=True)
class FactorInfo:
    """How the Z code dimensions relate to the F known factors."""

    factor_names: list[str]
    mi: np.ndarray            # (Z, F) I(z_k; v_f), nats
    factor_entropy: np.ndarray  # (F,) H(v_f), nats
    mig_per_factor: np.ndarray  # (F,)

    @property
    def nmi(self) -> np.ndarray:
        """(Z, F) I(z_k; v_f) / H(v_f) (0 for a factor that does not vary)."""
        h = np.where(self.factor_entropy > 0, self.factor_entropy, np.inf)
        return self.mi / h

    @property
    def mig(self) -> float:
        """The mean of MIG_f over the factors that vary."""
        varies = self.factor_entropy > 0
        return float(self.mig_per_factor[varies].mean()) if varies.any() else 0.0

    @property
    def labels(self) -> list[str | None]:
        return label_dims(self.nmi, self.factor_names)

    def as_dict(self) -> dict:
        """JSON-ready: what `training evaluate --json` reports."""
        return {"mig": self.mig, "factors": list(self.factor_names),
                "mig_per_factor": [float(v) for v in self.mig_per_factor],
                "factor_entropy": [float(v) for v in self.factor_entropy],
                "nmi": [[float(v) for v in row] for row in self.nmi], "labels": self.labels}


def label_dims(nmi: np.ndarray | Sequence[Sequence[float]], factor_names: Sequence[str]) -> list[str | None]:
    """Per dimension, the factor it is named after, or None when that is not clear (module docstring):
    the factor it tells most about, at least LABEL_MIN_NMI of that factor's entropy, and at least
    LABEL_MARGIN times what it tells about any other factor."""
    nmi = np.asarray(nmi, dtype=np.float64).reshape(-1, len(factor_names))
    names: list[str | None] = []
    for row in nmi:
        order = np.argsort(-row, kind="stable")
        best = row[order[0]] if row.size else 0.0
        second = row[order[1]] if row.size > 1 else 0.0
        names.append(factor_names[int(order[0])] if best >= LABEL_MIN_NMI and best >= LABEL_MARGIN * second else None)
    return names


def record_terms(info: FactorInfo) -> dict:
    """What a training records per epoch (history.jsonl): the MIG, the factors and NMI[k, f]."""
    return {"mig": info.mig, "factors": list(info.factor_names), "factor_nmi": [[round(float(v), 5) for v in row]
                                                                              for row in info.nmi]}


def labels_of_record(record: dict, z_dim: int) -> list[str | None]:
    """The dimension names from a history record (None for each when it has no factor terms)."""
    nmi, names = record.get("factor_nmi"), record.get("factors")
    if not nmi or not names or len(nmi) != z_dim:
        return [None] * z_dim
    return label_dims(nmi, names)


def factor_information(mu: np.ndarray, factors: np.ndarray, factor_names: Sequence[str],
                       bins: int = BINS) -> FactorInfo:
    """NMI, MIG and names for codes MU (N, Z) and true factors FACTORS (N, F) of the same N images."""
    mu, factors = np.asarray(mu, dtype=np.float64), np.asarray(factors, dtype=np.float64)
    if mu.ndim != 2 or factors.ndim != 2 or len(mu) != len(factors) or factors.shape[1] != len(factor_names):
        raise ValueError(f"Codes {mu.shape} and factors {factors.shape} ({len(factor_names)} names) do not match.")
    z_codes = [discretize(mu[:, k], bins) for k in range(mu.shape[1])]
    v_codes = [discretize(factors[:, f], bins) for f in range(factors.shape[1])]
    mi = np.array([[mutual_information(z, v) for v in v_codes] for z in z_codes]).reshape(mu.shape[1], len(v_codes))
    h = np.array([entropy(v) for v in v_codes])
    top = -np.sort(-mi, axis=0)
    second = top[1] if mi.shape[0] > 1 else np.zeros(mi.shape[1])
    gap = np.where(h > 0, (top[0] - second) / np.where(h > 0, h, 1.0), 0.0) if mi.shape[0] else np.zeros(len(h))
    return FactorInfo(list(factor_names), mi, h, gap)


def of_model(model, x, factors: np.ndarray, factor_names: Sequence[str]) -> FactorInfo:
    """FactorInfo of MODEL's codes mu(x) (E3) of the images X (N, C, H, W) with their FACTORS (N, F)."""
    from training.analysis.latent import encode_dataset

    return factor_information(encode_dataset(model, x), factors, factor_names)

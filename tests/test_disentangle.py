"""Mutual information, MIG and dimension names (training/analysis/disentangle.py), against an independent
computation (scikit-learn's mutual_info_score, scipy's entropy) and cases with a known answer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import mutual_info_score

from training.analysis import disentangle
from tests.waiting import HANG_S

NAMES = ["shape", "scale", "pos_x"]


def factorial(levels=(3, 4, 5), repeat: int = 2) -> np.ndarray:
    """Every combination of factor levels equally often: the factors are exactly independent in the sample."""
    grid = np.array(list(itertools.product(*(range(n) for n in levels))), dtype=np.float64)
    return np.repeat(grid, repeat, axis=0)


def independent_mig(mu: np.ndarray, factors: np.ndarray) -> tuple[float, np.ndarray]:
    """MIG from its definition with other libraries' MI and entropy (same binning)."""
    z = [disentangle.discretize(mu[:, k]) for k in range(mu.shape[1])]
    v = [disentangle.discretize(factors[:, f]) for f in range(factors.shape[1])]
    mi = np.array([[mutual_info_score(a, b) for b in v] for a in z])
    h = np.array([scipy_entropy(np.bincount(b)) for b in v])
    top = -np.sort(-mi, axis=0)
    return float(np.mean((top[0] - top[1]) / h)), mi / h


def test_a_perfectly_disentangled_code_has_mig_1_and_every_dimension_named():
    v = factorial()
    mu = v[:, [2, 0, 1]] * 0.7 - 1.0  # z_0 = pos_x, z_1 = shape, z_2 = scale (scaled and shifted)
    info = disentangle.factor_information(mu, v, NAMES)
    assert info.mig == pytest.approx(1.0, abs=1e-12)
    assert info.labels == ["pos_x", "shape", "scale"]
    np.testing.assert_allclose(info.nmi, [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_a_perfectly_entangled_code_has_mig_0_and_no_dimension_named_apart():
    v = factorial()
    mixed = v @ np.array([1.0, 3.0, 12.0])  # one number that holds all three factors
    mu = np.stack([mixed, mixed, -mixed], axis=1)  # the same information in every dimension
    info = disentangle.factor_information(mu, v, NAMES)
    assert info.mig == pytest.approx(0.0, abs=1e-12)
    assert len(set(info.labels)) == 1  # the same information: the same name (or none) for every dimension
    assert (info.nmi[0] == info.nmi[1]).all()  # nothing tells one dimension from the other


def test_mig_and_nmi_equal_an_independent_computation_on_a_noisy_code():
    rng = np.random.default_rng(0)
    n = 3000
    v = np.stack([rng.integers(0, 3, n), rng.uniform(0.5, 1, n), rng.uniform(0, 1, n)], axis=1)
    mu = np.stack([v[:, 2] + rng.normal(0, 0.05, n), v[:, 1] + 0.3 * v[:, 2], rng.normal(size=n),
                   v[:, 0] + rng.normal(0, 0.3, n)], axis=1)
    info = disentangle.factor_information(mu, v, NAMES)
    mig, nmi = independent_mig(mu, v)
    assert info.mig == pytest.approx(mig, rel=1e-9)
    np.testing.assert_allclose(info.nmi, nmi, rtol=1e-9, atol=1e-12)
    assert 0.05 < info.mig < 0.95


def test_a_dimension_that_copies_a_factor_is_named_after_it_and_a_noise_dimension_is_not():
    rng = np.random.default_rng(1)
    n = 2000
    v = np.stack([rng.integers(0, 3, n), rng.uniform(0.5, 1, n), rng.uniform(0, 1, n)], axis=1)
    mu = rng.normal(size=(n, 5))
    mu[:, 3] = v[:, 1]  # z_3 copies scale
    labels = disentangle.factor_information(mu, v, NAMES).labels
    assert labels == [None, None, None, "scale", None]


def test_the_naming_rule_needs_a_clear_winner():
    names = ["a", "b"]
    assert disentangle.label_dims([[0.5, 0.2], [0.5, 0.3], [0.15, 0.0]], names) == ["a", None, None]
    assert disentangle.label_dims([[0.2, 0.1]], names) == ["a"]  # exactly at both thresholds


def test_a_record_keeps_what_the_pages_need():
    v = factorial()
    info = disentangle.factor_information(v[:, [1, 0, 2]], v, NAMES)
    record = disentangle.record_terms(info)
    assert record["mig"] == pytest.approx(1.0) and record["factors"] == NAMES
    assert disentangle.labels_of_record(record, 3) == ["scale", "shape", "pos_x"]
    assert disentangle.labels_of_record({}, 3) == [None, None, None]
    assert disentangle.labels_of_record(record, 4) == [None] * 4  # another model's record: no names


def test_codes_and_factors_must_match():
    with pytest.raises(ValueError, match="do not match"):
        disentangle.factor_information(np.zeros((10, 2)), np.zeros((9, 3)), NAMES)


@pytest.mark.slow  # trains on shapes and measures MIG (about 15 s)
def test_evaluate_reports_mig_and_names_for_a_data_set_with_factors_and_the_history_has_them(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = tmp_path / "shapes"
    subprocess.run([sys.executable, "-m", "training", "fit", "--dataset", "shapes", "--image-size", "12",
                    "--latent-dim", "3", "--hidden", "32", "--epochs", "1", "--threads", "1", "--quiet",
                    "--out", str(run)], cwd=root, check=True, timeout=HANG_S)  # a hang guard
    record = json.loads((run / "history.jsonl").read_text().splitlines()[-1])
    assert record["factors"] == ["shape", "scale", "rotation", "pos_x", "pos_y"]
    assert len(record["factor_nmi"]) == 3 and all(len(row) == 5 for row in record["factor_nmi"])
    out = subprocess.run([sys.executable, "-m", "training", "evaluate", str(run), "--iw-samples", "2",
                          "--elbo-samples", "1", "--json"], cwd=root, check=True, timeout=HANG_S,
                         capture_output=True, text=True).stdout
    d = json.loads(out)["disentanglement"]
    assert 0.0 <= d["mig"] <= 1.0 and len(d["labels"]) == 3
    assert d["mig"] == pytest.approx(record["mig"], abs=1e-4)  # the same codes, the same MIG
    assert np.array(d["nmi"]) == pytest.approx(np.array(record["factor_nmi"]), abs=1e-4)

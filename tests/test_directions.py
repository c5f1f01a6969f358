"""Directions in z between two groups of test images (training/analysis/directions.py) and the ``direction``
command (issue 27, item 1 and the library part of item 6)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from training.analysis import directions
from training.core.errors import UserError

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_the_direction_is_the_difference_of_the_two_groups_mean_mu():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(500, 8))
    a, b = np.arange(0, 120), np.arange(300, 480)
    found = directions.between(mu, a, b)
    np.testing.assert_allclose(found.direction, mu[300:480].mean(0) - mu[:120].mean(0), rtol=1e-5, atol=1e-6)
    assert (found.from_count, found.to_count) == (120, 180)
    assert found.length == pytest.approx(np.linalg.norm(mu[300:480].mean(0) - mu[:120].mean(0)), rel=1e-5)


def test_a_dimension_that_copies_a_factor_is_the_direction_between_its_low_and_high_points():
    rng = np.random.default_rng(1)
    factors = rng.uniform(size=(2000, 3))  # e.g. scale, pos_x, pos_y
    mu = rng.normal(size=(2000, 6))
    mu[:, 4] = 3 * factors[:, 1]  # dimension 4 copies pos_x
    names = ["scale", "pos_x", "pos_y"]
    low = directions.group("pos_x:0..0.3", 2000, factors=factors, factor_names=names)
    high = directions.group("pos_x:0.7..1", 2000, factors=factors, factor_names=names)
    assert set(low) == set(np.flatnonzero(factors[:, 1] <= 0.3))
    found = directions.between(mu, low, high)
    u = found.direction / found.length
    assert abs(u[4]) > 0.99 and u[4] > 0  # along dimension 4, from low to high
    assert found.accuracy == 1.0 and found.separation > 5


def test_separation_and_accuracy_say_when_a_direction_separates_nothing():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(4000, 4))
    apart = mu.copy()
    apart[2000:, 0] += 4.0  # two unit gaussians 4 sd apart along z_0
    found = directions.between(apart, np.arange(2000), np.arange(2000, 4000))
    assert found.separation == pytest.approx(4.0, abs=0.15)
    assert found.accuracy == pytest.approx(0.977, abs=0.01)  # Phi(2): each side of the midpoint
    same = directions.between(mu, np.arange(2000), np.arange(2000, 4000))  # one distribution split in two
    assert abs(same.separation) < 0.2 and same.accuracy < 0.56


def test_labels_and_index_lists_name_their_test_images():
    labels = np.array([0, 1, 7, 1, 7, 7])
    assert directions.group("label:7", 6, labels).tolist() == [2, 4, 5]
    assert directions.group("5,1,1,3", 6, labels).tolist() == [1, 3, 5]


@pytest.mark.parametrize("spec, said", [
    ("label:9", "holds no test images"), ("label:x", "whole number after label:"), ("pos_x:0..0.3", "has none"),
    ("17,999", "names test image 999"), ("", "is not label:K"), ("a,b", "is not label:K")])
def test_a_group_that_names_nothing_there_is_one_sentence(spec, said):
    with pytest.raises(UserError, match=said):
        directions.group(spec, 100, labels=np.zeros(100, int))


def test_a_missing_factor_a_bad_range_two_identical_groups_and_a_zero_length_are_refused():
    factors, names = np.zeros((10, 2)), ["scale", "pos_x"]
    with pytest.raises(UserError, match="does not have; it has scale, pos_x"):
        directions.group("colour:0..1", 10, factors=factors, factor_names=names)
    with pytest.raises(UserError, match="range LOW..HIGH"):
        directions.group("pos_x:0.5..0.1", 10, factors=factors, factor_names=names)
    mu = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    with pytest.raises(UserError, match="same test images"):
        directions.between(mu, [0, 1], [1, 0])
    with pytest.raises(UserError, match="length zero"):
        directions.between(mu, [0, 1], [2, 3])  # different images, the same mean


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "training", "direction", *args], cwd=ROOT, capture_output=True,
                          text=True)


def test_the_command_prints_the_direction_and_its_two_figures_as_json():
    done = _cli("--run", "explorer/demos/mnist5k-z16", "--from", "label:1", "--to", "label:7", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert {"direction", "from_count", "to_count", "separation", "accuracy"} <= set(found)
    assert len(found["direction"]) == 16 and found["from_count"] > 50 and found["to_count"] > 50
    assert found["accuracy"] > 0.9 and found["separation"] > 2  # ones and sevens lie apart in z
    bad = _cli("--run", "explorer/demos/mnist5k-z16", "--from", "label:1", "--to", "label:1")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: The two groups are the same test images: there is no direction between them.")

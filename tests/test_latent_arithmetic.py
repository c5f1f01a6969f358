"""Latent arithmetic (issue 27, items 2, 3 and 6): moving along a direction, analogies judged on the bundled
16-dimensional model, principal directions (a rotation of the plane for a 2-D model), the direction of native,
ONNX and adapter models alike."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from explorer import DEMOS
from training.analysis import directions, latent
from training.analysis.principal import principal
from training.cli import main
from training.core.errors import UserError


def test_along_adds_t_times_the_direction():
    z, d = np.array([1.0, -2.0, 0.5]), np.array([0.5, 0.25, -1.0])
    path = directions.along(z, d, [-2, 0, 1.5])
    np.testing.assert_allclose(path, [z - 2 * d, z, z + 1.5 * d], atol=1e-6)
    assert path.dtype == np.float32


def test_a_direction_is_written_from_greater_than_to():
    assert directions.pair(" label:1 > label:7 ") == ("label:1", "label:7")
    assert directions.written("pos_x:0..0.3", "pos_x:0.7..1") == "pos_x:0..0.3>pos_x:0.7..1"
    for bad in ("label:1", ">label:7", "label:1>", "a>b>c", ""):
        with pytest.raises(UserError, match="is not written FROM>TO"):
            directions.pair(bad)


def _rotation(theta: float) -> np.ndarray:
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


@pytest.mark.parametrize("theta", [0.3, 1.1, 2.5, -0.7])
def test_for_a_2d_model_the_principal_directions_are_a_rotation_of_the_plane(theta):
    rng = np.random.default_rng(7)
    plane = rng.normal(size=(4000, 2)) * [3.0, 0.8]          # the long axis first
    r = _rotation(theta)
    mu = plane @ r.T + [0.4, -1.2]                           # turned by theta, moved
    found = principal(mu, k=2)
    v = found.vectors
    np.testing.assert_allclose(v @ v.T, np.eye(2), atol=1e-9)
    assert np.linalg.det(v) == pytest.approx(1.0)             # a rotation, never a reflection
    angle = math.atan2(v[0, 1], v[0, 0])                      # v_1 = (cos a, sin a): the plane turned by a
    np.testing.assert_allclose(v, _rotation(angle).T, atol=1e-12)
    assert math.isclose(math.cos(2 * (angle - theta)), 1.0, abs_tol=1e-3)  # a = theta up to the axis' sign
    np.testing.assert_allclose(found.sd, [3.0, 0.8], rtol=0.05)
    assert found.share.sum() == pytest.approx(1.0)
    c = np.array([1.5, -0.5])                                  # the sliders are the turned plane's coordinates
    np.testing.assert_allclose(found.point(c), found.mean + _rotation(angle) @ (c * found.sd), atol=1e-5)
    np.testing.assert_allclose(found.coefficients(found.point(c)), c, atol=1e-5)


def test_principal_directions_start_at_the_mean_and_order_by_variance():
    rng = np.random.default_rng(3)
    mu = rng.normal(size=(800, 6)) * [0.2, 2.0, 0.5, 1.0, 0.1, 3.0]
    found = principal(mu, k=4)
    assert found.vectors.shape == (4, 6) and found.count == 800
    np.testing.assert_allclose(found.point(np.zeros(4)), mu.mean(0), atol=1e-6)
    assert list(np.argmax(np.abs(found.vectors), axis=1)) == [5, 1, 3, 2]  # the largest spreads first
    assert np.all(np.diff(found.share) <= 0) and 0 < found.share.sum() < 1
    with pytest.raises(UserError, match="at least two encodings"):
        principal(mu[:1])
    with pytest.raises(UserError, match="all the same point"):
        principal(np.ones((5, 6)))


def test_the_axis_of_a_direction_puts_the_two_groups_apart_along_x():
    rng = np.random.default_rng(5)
    mu = rng.normal(size=(600, 5))
    mu[300:, 2] += 4.0
    d = directions.between(mu, np.arange(300), np.arange(300, 600)).direction
    proj = directions.axis_projection(mu, d, "A", "B")
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(2), atol=1e-9)
    x = proj.coords[:, 0]
    assert x[300:].mean() - x[:300].mean() == pytest.approx(np.linalg.norm(d), rel=1e-4)
    np.testing.assert_allclose(proj.inverse(proj.coords[:3]), proj.mean + proj.coords[:3] @ proj.components,
                               atol=1e-5)
    assert proj.linear and proj.invertible


def test_the_analogy_writes_most_test_ones_as_sevens(mnist16):
    """mu(x) - mean mu(ones) + mean mu(sevens), decoded, judged by a nearest-centroid classifier on pixels made
    from the training images: at least half of 20 test ones must become sevens (here 19 of 20)."""
    run, data, x, mu = mnist16
    groups = directions.Groups.of(data, len(x))
    ones, sevens = groups.read("label:1"), groups.read("label:7")
    d = directions.between(mu, ones, sevens).direction
    np.testing.assert_allclose(d, mu[sevens].mean(0) - mu[ones].mean(0), atol=1e-5)
    x_train, y_train = data.x_train.numpy().reshape(len(data.x_train), -1), data.y_train.numpy()
    centroids = np.stack([x_train[y_train == k].mean(0) for k in range(10)])

    def classify(images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1)
        return np.argmin(((flat[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)

    twenty = ones[:20]
    assert (classify(x[twenty].numpy()) == 1).sum() >= 18           # the classifier reads the ones as ones
    written = latent.decode_images(run.model, mu[twenty] - mu[ones].mean(0) + mu[sevens].mean(0))
    as_seven = int((classify(written) == 7).sum())
    print(f"analogy: {as_seven} of 20 test ones written as sevens")
    assert as_seven >= 10
    steps = directions.along(mu[twenty[0]], d, np.linspace(0, 1, 6))  # the view's steps: mu(x) + s d
    np.testing.assert_allclose(steps[-1], mu[twenty[0]] + d, atol=1e-5)


def test_onnx_and_adapter_models_give_their_direction_like_native_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    args = ["--from", "label:1", "--to", "label:7", "--json"]
    assert main(["direction", "--run", str(DEMOS / "mnist5k-z2"), *args]) == 0
    native = json.loads(capsys.readouterr().out)
    assert main(["export", str(DEMOS / "mnist5k-z2"), "--out", str(tmp_path / "exported")]) == 0
    capsys.readouterr()
    assert main(["direction", "--run", str(tmp_path / "exported"), *args]) == 0
    onnx = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(onnx["direction"], native["direction"], atol=1e-4)
    assert (onnx["from_count"], onnx["to_count"]) == (native["from_count"], native["to_count"])
    assert onnx["accuracy"] == pytest.approx(native["accuracy"], abs=0.01)

    from training.models import adapter

    spec = "tests.own_model_example:make"
    assert main(["evaluate", "--model", spec, "--iw-samples", "2", "--elbo-samples", "1", "--json"]) == 0
    capsys.readouterr()
    assert main(["direction", "--run", str(adapter.folder_for(spec)), "--from", "label:0", "--to", "label:1",
                 "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert len(own["direction"]) == 3 and own["from_count"] > 0 and 0 <= own["accuracy"] <= 1

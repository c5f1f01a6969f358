"""Interpolate's two paths and what the prior says along them (issue 27, item 5): SLERP keeps the norm, the
straight line dips through the low-norm middle, ln N(z; 0, I) per step, and the page's chart of both."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from streamlit.testing.v1 import AppTest

from explorer import DEMOS
from explorer.figures import interpolation
from tests.waiting import HANG_S
from training.vae import latent_space

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"


def test_slerp_keeps_the_norm_between_equal_norm_ends_and_the_line_dips_below_it():
    rng = np.random.default_rng(0)
    for z_dim in (2, 16, 64):
        a, b = rng.normal(size=(2, z_dim))
        b *= np.linalg.norm(a) / np.linalg.norm(b)  # equal norms
        sphere, line = latent_space.slerp(a, b, 11), latent_space.lerp(a, b, 11)
        np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), np.linalg.norm(a), atol=1e-5)
        assert np.linalg.norm(line[5]) < np.linalg.norm(a) - 1e-3  # the straight line's middle: a smaller norm
        assert np.linalg.norm(line[5]) == pytest.approx(np.linalg.norm(a + b) / 2, rel=1e-5)


def test_the_prior_log_density_is_the_standard_normals():
    rng = np.random.default_rng(1)
    for z_dim in (1, 3, 16):
        z = rng.normal(size=(7, z_dim)) * 2
        expected = multivariate_normal(mean=np.zeros(z_dim), cov=np.eye(z_dim)).logpdf(z)
        np.testing.assert_allclose(latent_space.prior_log_density(z), expected, rtol=1e-10)
        by_hand = -0.5 * (z ** 2).sum(1) - z_dim / 2 * math.log(2 * math.pi)
        np.testing.assert_allclose(latent_space.prior_log_density(z), by_hand, rtol=1e-12)


def test_the_figure_holds_both_paths_density_and_norm_and_the_typical_norm():
    a, b = np.array([3.0, 0.0, 0.0, 0.0]), np.array([0.0, 3.0, 0.0, 0.0])
    fig = interpolation.prior_along({"linear": latent_space.lerp(a, b, 5), "spherical": latent_space.slerp(a, b, 5)})
    density = [t for t in fig.data if t.xaxis == "x"]
    norms = [t for t in fig.data if t.xaxis == "x2" and t.name in ("linear", "spherical")]
    assert [t.name for t in density] == ["linear", "spherical"] and len(norms) == 2
    np.testing.assert_allclose(density[0].y, latent_space.prior_log_density(latent_space.lerp(a, b, 5)))
    np.testing.assert_allclose(norms[1].y, 3.0, atol=1e-5)  # the arc keeps the norm
    assert norms[0].y[2] == pytest.approx(3 / math.sqrt(2))  # the line's middle
    (typical,) = [t for t in fig.data if t.line.dash == "dash"]
    assert list(typical.y) == [2.0, 2.0]  # sqrt(Z)


def _values(values) -> np.ndarray:
    if isinstance(values, dict):  # numpy's bytes (Plotly >= 6)
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).astype(np.float64)
    return np.asarray(values, dtype=np.float64)


def test_the_interpolate_page_draws_the_prior_along_both_paths():
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMOS / "mnist5k-z16")
    at.switch_page("views/interpolate.py").run()
    at.slider(key="interp_steps").set_value(6).run()
    assert not at.exception, [e.value for e in at.exception]
    (chart,) = [c for c in at.get("plotly_chart") if c.key == "interp_prior"]
    data = json.loads(chart.proto.spec)["data"]
    paths = [t for t in data if t.get("xaxis", "x") == "x"]
    assert [t["name"] for t in paths] == ["Linear", "Spherical"]
    for t in paths:
        x, y = _values(t["x"]), _values(t["y"])
        assert len(x) == len(y) == 6 + 2 and (x[0], x[-1]) == (0, 1)
        assert np.all(y <= -16 / 2 * math.log(2 * math.pi))  # ln N(z; 0, I) is at most its value at z = 0
    dashed = [t for t in data if t.get("line", {}).get("dash") == "dash"]
    assert len(dashed) == 1 and _values(dashed[0]["y"])[0] == pytest.approx(4.0)  # sqrt(16)
    assert any("√Z (dashed)" in c.value for c in at.caption)

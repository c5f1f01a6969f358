"""Figures of the Train page: smoothing, thinning, and the traces each chart carries."""

import math

import pytest

from training.runs.step_log import StepRow
from explorer.figures.train_figures import MAX_POINTS, beta_figure, ema, loss_figure, thin


def steps(n):
    """Noisy falling recon, rising KL, beta warming up over 50 steps."""
    noise = [5 if i % 2 else -5 for i in range(n + 1)]
    return [StepRow(i, 100.0 - i * 0.01 + noise[i], 1.0 + i * 0.001, min(1.0, i / 50)) for i in range(1, n + 1)]


RECORDS = [
    {"epoch": 1, "train_recon": 90.0, "test_recon": 95.0, "train_kl": 3.0, "test_kl": 3.5},
    {"epoch": 2, "train_recon": 80.0, "test_recon": 86.0, "train_kl": 4.0, "test_kl": 4.2},
]


def test_ema_starts_at_the_first_value_and_smooths_noise():
    assert ema([]) == []
    assert ema([7.0, 7.0, 7.0]) == pytest.approx([7.0, 7.0, 7.0])  # bias-corrected: no pull toward 0
    noisy = [10.0 + (1 if i % 2 else -1) for i in range(200)]
    smoothed = ema(noisy, 0.9)
    assert smoothed[0] == pytest.approx(9.0)
    assert max(abs(v - 10.0) for v in smoothed[50:]) < 0.2
    assert ema([1.0, 2.0], 0.0) == [1.0, 2.0]
    with pytest.raises(ValueError):
        ema([1.0], 1.0)


def test_thin_caps_the_points_and_keeps_both_ends():
    xs = list(range(5000))
    tx, ty = thin(xs, [2 * x for x in xs], max_points=100)
    assert len(tx) <= 100
    assert tx[0] == 0 and tx[-1] == 4999 and ty[-1] == 9998
    assert thin([1, 2], [3, 4]) == ([1, 2], [3, 4])


def test_loss_figure_has_step_curves_and_train_and_test_per_epoch():
    fig = loss_figure("recon", steps(20), RECORDS, steps_per_epoch=10)
    names = [t.name for t in fig.data]
    assert names == ["per step", "per step (smoothed)", "train (per epoch)", "test (per epoch)"]
    smoothed = fig.data[1]
    assert smoothed.x[-1] == pytest.approx(2.0)  # step 20 of 10 per epoch
    assert list(fig.data[2].y) == [90.0, 80.0] and list(fig.data[3].y) == [95.0, 86.0]
    assert max(smoothed.y) - min(smoothed.y) < max(fig.data[0].y) - min(fig.data[0].y)  # smoother than raw
    kl = loss_figure("kl", steps(20), RECORDS, steps_per_epoch=10)
    assert list(kl.data[3].y) == [3.5, 4.2] and kl.data[0].y[0] == pytest.approx(1.001)


def test_loss_figure_stays_light_with_thousands_of_steps():
    fig = loss_figure("kl", steps(5000), [], steps_per_epoch=100)
    assert all(len(t.x) <= MAX_POINTS for t in fig.data)
    assert fig.data[1].x[-1] == pytest.approx(50.0)


def test_figures_before_the_first_step_say_they_are_waiting():
    for fig in (loss_figure("recon", [], [], 0), beta_figure([], 0)):
        assert len(fig.data) == 0
        assert "waiting" in fig.layout.annotations[0].text


def test_epoch_points_alone_are_drawn_without_steps():
    fig = loss_figure("recon", [], RECORDS, steps_per_epoch=10)
    assert [t.name for t in fig.data] == ["train (per epoch)", "test (per epoch)"]


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="metric"):
        loss_figure("elbo", steps(3), RECORDS, 10)


def test_beta_figure_follows_the_schedule():
    fig = beta_figure(steps(100), steps_per_epoch=10)
    (trace,) = fig.data
    assert trace.y[0] == pytest.approx(0.02) and trace.y[-1] == 1.0
    assert all(b >= a for a, b in zip(trace.y, trace.y[1:]))
    assert trace.x[-1] == pytest.approx(10.0) and not any(math.isnan(v) for v in trace.y)

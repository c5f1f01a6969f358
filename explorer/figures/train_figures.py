"""Plotly figures for the Train page: functions of a job's steps and epoch records (words in the
visitor's language, through explorer/i18n.py).

``steps`` are ``(global_step, recon, kl, beta, ...)`` rows (``training.runs.step_log.StepRow`` or plain tuples);
``records`` are the trainer's per-epoch history dicts (``train_recon``, ``test_kl``, ...).
Step curves are drawn against fractional epochs so they share an x axis with the epoch points.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.i18n import N_, _

MAX_POINTS = 1000  # per trace: enough for a smooth line, light enough to resend every second
METRICS = {"recon": N_("Reconstruction (nats per image)"), "kl": N_("KL (nats per image)")}
_COLUMN = {"recon": 1, "kl": 2, "beta": 3}
TRAIN_COLOR, TEST_COLOR, STEP_COLOR = "#1f77b4", "#d62728", "#7f7f7f"


def ema(values: Sequence[float], smoothing: float = 0.95) -> list[float]:
    """Exponential moving average with bias correction (the first points are not pulled toward 0)."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), not {smoothing}")
    out, avg = [], 0.0
    for n, value in enumerate(values, 1):
        avg = smoothing * avg + (1.0 - smoothing) * value
        out.append(avg / (1.0 - smoothing ** n))
    return out


def thin(xs: Sequence, ys: Sequence, max_points: int = MAX_POINTS) -> tuple[list, list]:
    """Every k-th point (always keeping the last) so a trace has at most ``max_points`` points."""
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    stride = -(-n // max_points)
    idx = list(range(0, n, stride))
    if idx[-1] != n - 1:
        idx[-1] = n - 1
    return [xs[i] for i in idx], [ys[i] for i in idx]


def _empty(title: str, y_title: str, height: int) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=_("waiting for the first step..."), showarrow=False, x=0.5, y=0.5,
                       xref="paper", yref="paper", font={"color": STEP_COLOR})
    return _layout(fig, title, y_title, height)


def _layout(fig: go.Figure, title: str, y_title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.25}, hovermode="x unified")
    fig.update_xaxes(title_text=_("epoch"), rangemode="tozero")
    fig.update_yaxes(title_text=y_title)
    return fig


def loss_figure(metric: str, steps: Sequence[Sequence[float]], records: Sequence[dict], steps_per_epoch: int,
                smoothing: float = 0.95, height: int = 320) -> go.Figure:
    """One loss term ("recon" or "kl"): smoothed per-step curve, train and test per epoch."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    title = _("Reconstruction") if metric == "recon" else _("KL divergence")
    if not steps and not records:
        return _empty(title, _(METRICS[metric]), height)
    fig = go.Figure()
    if steps:
        per_epoch = max(1, steps_per_epoch)
        x = [row[0] / per_epoch for row in steps]
        raw = [row[_COLUMN[metric]] for row in steps]
        xr, yr = thin(x, raw)
        fig.add_scatter(x=xr, y=yr, mode="lines", name=_("per step"), line={"color": STEP_COLOR, "width": 1},
                        opacity=0.3)
        xs, ys = thin(x, ema(raw, smoothing))
        fig.add_scatter(x=xs, y=ys, mode="lines", name=_("per step (smoothed)"),
                        line={"color": STEP_COLOR, "width": 2})
    if records:
        epochs = [r["epoch"] for r in records]
        for split, name, color in (("train", _("train (per epoch)"), TRAIN_COLOR),
                                   ("test", _("test (per epoch)"), TEST_COLOR)):
            fig.add_scatter(x=epochs, y=[r.get(f"{split}_{metric}") for r in records], mode="lines+markers",
                            name=name, line={"color": color})
    return _layout(fig, title, _(METRICS[metric]), height)


def beta_figure(steps: Sequence[Sequence[float]], steps_per_epoch: int, height: int = 260) -> go.Figure:
    """The KL weight beta used at each step (warm-up or cyclical schedules show their shape)."""
    if not steps:
        return _empty(_("KL weight β"), "β", height)
    per_epoch = max(1, steps_per_epoch)
    x, y = thin([row[0] / per_epoch for row in steps], [row[_COLUMN["beta"]] for row in steps])
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, mode="lines", name="β", line={"color": "#2ca02c", "shape": "hv"})
    fig.update_layout(showlegend=False)
    return _layout(fig, _("KL weight β"), "β", height)

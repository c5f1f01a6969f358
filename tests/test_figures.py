"""explorer/figures/charts.py and explorer/figures/images.py: pure functions, no Streamlit."""

from pathlib import Path

import numpy as np
import pytest

from explorer.figures import charts, images

HISTORY = [
    {"epoch": e, "beta": b, "train_recon": 200 - e, "test_recon": 201 - e, "train_kl": 5 + e, "test_kl": 4 + e,
     "train_loss": 205 + b * e, "test_neg_elbo": 205.0, "kl_per_dim": [1.0, 0.0]}
    for e, b in [(1, 0.5), (2, 1.0), (3, 1.0)]
]


# ---------------------------------------------------------------- images

def test_to_uint8_clips_and_rounds():
    out = images.to_uint8(np.array([-0.5, 0.0, 0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(out, [0, 0, 128, 255, 255])
    assert out.dtype == np.uint8
    raw = np.array([3, 7], dtype=np.uint8)
    assert images.to_uint8(raw) is raw


def test_upscale_keeps_crisp_pixel_blocks():
    img = np.array([[0, 255], [128, 64]], dtype=np.uint8)
    big = images.upscale_nearest(img, 3)
    assert big.shape == (6, 6)
    for r in range(2):
        for c in range(2):
            block = big[3 * r:3 * r + 3, 3 * c:3 * c + 3]
            assert (block == img[r, c]).all()  # every block is one flat colour: no blur
    rgb = np.random.default_rng(0).random((2, 3, 3))
    assert images.upscale_nearest(rgb, 2).shape == (4, 6, 3)
    with pytest.raises(ValueError):
        images.upscale_nearest(img, 0)


def test_image_grid_shape_and_placement():
    tiles = np.stack([np.full((4, 5, 1), k / 10, np.float32) for k in range(7)])
    grid = images.image_grid(tiles, ncols=3, pad=1, pad_value=0.9)
    assert grid.shape == (3 * 5 + 1, 3 * 6 + 1, 1)
    assert grid[1, 1, 0] == pytest.approx(0.0) and grid[1 + 5, 1 + 6, 0] == pytest.approx(0.4)
    assert grid[-2, -2, 0] == pytest.approx(0.9)  # the empty cell after the 7th tile
    assert grid[0, 0, 0] == pytest.approx(0.9)  # the border


def test_display_keeps_grayscale_and_upscales():
    img = np.random.default_rng(1).random((28, 28, 1)).astype(np.float32)
    out = images.display(img, 280)
    assert out.shape == (280, 280) and out.dtype == np.uint8
    pil = images.pil_image(img)
    assert pil.mode == "L" and pil.size == (28, 28)
    assert images.display(np.random.default_rng(2).random((8, 8, 3)), 40).shape == (40, 40, 3)


# ---------------------------------------------------------------- latent scatter

def test_latent_scatter_uses_webgl_and_test_indices():
    coords = np.random.default_rng(0).standard_normal((30, 2))
    indices = np.arange(100, 130)
    labels = np.arange(30) % 3
    fig = charts.latent_scatter(coords, indices, labels=labels, label_names=["a", "b", "c"])
    assert [t.type for t in fig.data] == ["scattergl"] * 3
    assert [t.name for t in fig.data] == ["a", "b", "c"]
    for cls, trace in enumerate(fig.data):
        np.testing.assert_array_equal(trace.customdata, indices[labels == cls])
        np.testing.assert_allclose(trace.x, coords[labels == cls, 0])
    assert sum(len(t.customdata) for t in fig.data) == 30


def test_latent_scatter_continuous_factor_is_one_coloured_trace():
    coords = np.zeros((4, 2))
    fig = charts.latent_scatter(coords, np.arange(4), color_values=np.array([0.1, 0.2, 0.3, 0.4]),
                                 color_title="scale")
    assert len(fig.data) == 1 and fig.data[0].type == "scattergl"
    assert fig.data[0].marker.showscale
    np.testing.assert_allclose(fig.data[0].marker.color, [0.1, 0.2, 0.3, 0.4])


def test_manifold_overlay():
    fig = charts.latent_scatter(np.zeros((2, 2)), np.arange(2))
    charts.add_manifold_overlay(fig, np.zeros((20, 20, 1)), np.linspace(-2, 2, 5), np.linspace(2, -2, 5))
    image = fig.layout.images[0]
    assert image.x == pytest.approx(-2.5) and image.sizex == pytest.approx(5.0)
    assert image.y == pytest.approx(2.5) and image.sizey == pytest.approx(5.0)


@pytest.mark.parametrize("event, expected", [
    ({"selection": {"points": [{"customdata": 42, "x": 0.1}], "point_indices": [3]}}, 42),
    ({"selection": {"points": [{"customdata": [17]}]}}, 17),
    ({"points": [{"customdata": 5.0}]}, 5),  # just the selection part
    ({"selection": {"points": [], "point_indices": []}}, None),
    ({"selection": {"points": [{"x": 1.0}, {"customdata": 9}]}}, 9),  # e.g. a contour point first
    (None, None),
    ({}, None),
])
def test_selected_index_maps_event_to_test_index(event, expected):
    assert charts.selected_index(event) == expected


# ---------------------------------------------------------------- training figures

def test_kl_bars_one_bar_per_dimension_with_active_highlighted():
    kl = [1.2, 0.001, 0.7, 0.0]
    fig = charts.kl_bars(kl, active=[True, False, True, False])
    assert len(fig.data) == 1 and fig.data[0].type == "bar"
    assert len(fig.data[0].x) == 4 and list(fig.data[0].x) == ["z_0", "z_1", "z_2", "z_3"]
    colors = list(fig.data[0].marker.color)
    assert colors[0] == colors[2] == charts.ACTIVE_COLOR
    assert colors[1] == colors[3] == charts.INACTIVE_COLOR
    assert "2 of 4 active" in fig.layout.title.text


def test_loss_curves_train_test_beta_kl_and_total():
    fig = charts.loss_curves(HISTORY, train_loss="recon + β·Σₖ max(0.5, KLₖ)")
    names = [t.name for t in fig.data]
    assert names == ["train recon", "test recon", "train KL", "test KL", "β · train KL",
                     "training objective (recon + β·Σₖ max(0.5, KLₖ))", "test −ELBO (recon + KL)"]
    beta_kl = fig.data[names.index("β · train KL")]
    np.testing.assert_allclose(beta_kl.y, [0.5 * 6, 1.0 * 7, 1.0 * 8])
    np.testing.assert_array_equal(fig.data[0].x, [1, 2, 3])


def summary(name, beta, lik, kl, recon, dataset="mnist5k"):
    from training.models.catalogue import RunSummary

    return RunSummary(path=Path("/r") / name, name=name, bundled=False, dataset=dataset, arch="mlp",
                      latent_dim=2, likelihood=lik, beta=beta, epochs_done=1, epochs_planned=1,
                      test_neg_elbo=None if kl is None else kl + recon, test_recon=recon, test_kl=kl,
                      active_units=1)


def test_rate_distortion_one_named_point_per_scored_run():
    from explorer.figures.rate_distortion import rate_distortion

    runs = [summary("a", 1.0, "bernoulli", 5.0, 100.0), summary("b", 4.0, "bernoulli", 2.0, 120.0),
            summary("c", 1.0, "gaussian", 9.0, -500.0), summary("untrained", 1.0, "bernoulli", None, None)]
    fig = rate_distortion(runs, current="/r/b")
    assert [t.name for t in fig.data] == ["Bernoulli", "Gaussian"]
    bern = fig.data[0]
    assert list(bern.x) == [5.0, 2.0] and list(bern.y) == [100.0, 120.0]
    assert list(bern.text) == ["a", "b"]  # named by the run, not by its β
    assert [c[3] for c in bern.customdata] == ["1", "4"]  # β in the hover
    assert list(bern.marker.size) == [10, 16]  # the current run stands out
    assert fig.layout.xaxis.title.text.startswith("rate")


def test_rate_distortion_one_plane_per_data_set():
    from explorer.figures.rate_distortion import rate_distortion

    runs = [summary("m1", 1.0, "bernoulli", 25.0, 115.0), summary("m2", 4.0, "bernoulli", 6.0, 140.0),
            summary("s1", 16.0, "bernoulli", 3.0, 80.0, dataset="shapes"),
            summary("d1", 1.0, "bernoulli", 5.0, 30.0, dataset="digits")]
    fig = rate_distortion(runs)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["data set digits", "data set mnist5k", "data set shapes"]
    axes = {t.xaxis: sorted(t.text) for t in fig.data}
    assert len(axes) == 3 and sorted(axes.values()) == [["d1"], ["m1", "m2"], ["s1"]]  # never two sets on one plane
    assert sum(t.showlegend is not False for t in fig.data) == 1  # one legend entry per likelihood


def test_rate_distortion_labels_never_overlap():
    from explorer.figures.rate_distortion import _label_box, _overlap, place_labels

    rng = np.random.default_rng(0)
    px, py = rng.uniform(0, 300, 40), rng.uniform(0, 250, 40)
    texts = [f"run-{k}" for k in range(40)]
    where = place_labels(px, py, texts, 300, 250)
    boxes = [_label_box(x, y, w, t) for x, y, w, t in zip(px, py, where, texts) if w]
    assert 5 <= len(boxes) < 40  # crowded: some names go to the hover only
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert place_labels([10.0, 200.0], [100.0, 100.0], ["a", "b"], 300, 250) == ["top center", "top center"]

"""The Latent map's points (explorer/widgets/map_points.py): the test split, the training split or both
(``points=test|train|all``), each split's mu encoded once per model and kept on disk
(training/analysis/encodings.py), its memory checked before it is paid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer import DEMOS
from training.analysis import encodings
from training.core.environment import MAX_DATA_ENV
from training.core.errors import UserError

DEMO = DEMOS / "mnist5k-z16"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    return tmp_path / "maps"


def open_map(points: str | None = None):
    """The Latent map of the bundled mnist5k-z16 demo, opened on a link with ``points=POINTS`` when given."""
    from streamlit.testing.v1 import AppTest

    from tests.test_app_explore import APP
    from tests.waiting import HANG_S

    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMO)
    if points is not None:
        at.query_params["points"] = points
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_points(at) -> int:
    """The number the page says it draws ("**5,000 points**")."""
    said = [m.value for m in at.markdown if m.value.endswith(" points**")]
    assert len(said) == 1, said
    return int(said[0].strip("*").split()[0].replace(",", ""))


@pytest.mark.parametrize("points, n, split", [("all", 5_000, "all"), ("train", 4_000, "train")])
def test_the_link_s_points_draw_that_split(points, n, split):
    at = open_map(points)
    assert at.radio(key="map_points").value == split
    assert shown_points(at) == n
    assert not at.warning
    at.radio(key="map_points").set_value("test").run()  # the default leaves the link
    assert shown_points(at) == 1_000 and "points" not in at.query_params
    at.radio(key="map_points").set_value(split).run()  # another split is written to it
    assert shown_points(at) == n and at.query_params["points"] == points


def test_both_splits_are_numbered_test_first_and_the_hover_says_which():
    at = open_map("all")
    caption = " ".join(c.value for c in at.caption)
    assert "points 0 to 999 are the test images, point 1,000 + i is training image i" in caption
    from explorer.widgets import map_points

    assert map_points.name(999, ("all", 1000)) == "test 999"
    assert map_points.name(1000, ("all", 1000)) == "train 0"
    assert map_points.name(17, ("train", 1000)) == "train 17"


def test_a_link_s_point_is_a_point_of_its_split_and_a_new_split_forgets_the_picked_one():
    from streamlit.testing.v1 import AppTest

    from tests.test_app_explore import APP
    from tests.waiting import HANG_S

    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params.update({"model": "mnist5k-z16", "points": "all", "point": "3000"})  # training image 2000
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["map_selected"][1] == 3000 and at.query_params["point"] == "3000"
    assert at.radio(key="map_method").value == "pca"  # the shipped t-SNE and UMAP are of the test images only
    at.radio(key="map_points").set_value("train").run()
    assert "map_selected" not in at.session_state and "point" not in at.query_params


def test_a_bad_points_value_is_one_sentence_and_the_test_split():
    at = open_map("everything")
    assert [w.value for w in at.warning] == [
        "The link's points everything is not one of test, train or all; the test images are shown."]
    assert at.radio(key="map_points").value == "test" and shown_points(at) == 1_000


def test_a_split_past_the_memory_limit_names_its_figure_and_shows_the_test_images(monkeypatch):
    monkeypatch.setenv(MAX_DATA_ENV, "1")  # 1 MB: both splits of mnist5k-z16 take 5,000 x (784 + 16) x 4 bytes
    at = open_map("all")
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "5,000 points would take about 16 MB" in warnings[0], warnings
    assert MAX_DATA_ENV in warnings[0] and shown_points(at) == 1_000


def test_the_memory_check_counts_images_and_mu(monkeypatch):
    assert encodings.need_bytes(10, 4, (1, 28, 28)) == 10 * (784 + 4) * 4
    monkeypatch.setenv(MAX_DATA_ENV, "100")
    encodings.check_memory(30_000, 16, (1, 28, 28))  # 92 MB: fits
    assert -(-encodings.need_bytes(70_000, 16, (1, 28, 28)) // 2**20) == 214  # 224,000,000 bytes
    with pytest.raises(UserError, match=r"70,000 points would take about 214 MB .* 100 MB"):
        encodings.check_memory(70_000, 16, (1, 28, 28))


class Encoder:
    """A stand-in model that counts the images it encodes: mu = the mean pixel, repeated Z times, times SCALE."""

    latent_dim = 3

    def __init__(self, scale: float = 1.0):
        from training.core.config import ModelConfig

        self.cfg, self.scale, self.encoded = ModelConfig(image_shape=(1, 4, 4), hidden=(8,), latent_dim=3), scale, 0

    def encode(self, x):
        self.encoded += len(x)
        mu = x.flatten(1).mean(1, keepdim=True).repeat(1, self.latent_dim) * self.scale
        return mu, torch.zeros_like(mu)


def test_encode_split_goes_in_chunks_and_reports_progress(monkeypatch):
    monkeypatch.setattr(encodings, "images_per_chunk", lambda cfg: 7)
    x, model, seen = torch.rand(20, 1, 4, 4), Encoder(), []
    mu = encodings.encode_split(model, x, lambda done, total: seen.append((done, total)))
    assert seen == [(7, 20), (14, 20), (20, 20)] and model.encoded == 20
    np.testing.assert_allclose(mu[:, 0], x.flatten(1).mean(1).numpy(), rtol=1e-6)


def test_encodings_are_kept_on_disk_per_weights_split_and_data_set(cache_dir):
    x, model = torch.rand(30, 1, 4, 4), Encoder()
    encode = lambda m: lambda: encodings.encode_split(m, x)  # noqa: E731
    first, hit1 = encodings.cached_encodings("weights-a", "train", "mnist5k", (30, 3), encode(model))
    second, hit2 = encodings.cached_encodings("weights-a", "train", "mnist5k", (30, 3), encode(model))
    assert (hit1, hit2) == (False, True) and model.encoded == 30  # the second call read the file
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32 and second.shape == (30, 3)
    retrained = Encoder(scale=2.0)  # another weights digest: encoded again, with its own values
    third, hit3 = encodings.cached_encodings("weights-b", "train", "mnist5k", (30, 3), encode(retrained))
    assert not hit3 and retrained.encoded == 30
    np.testing.assert_allclose(third, 2 * first, rtol=1e-6)
    other = Encoder()
    encodings.cached_encodings("weights-a", "test", "mnist5k", (30, 3), encode(other))  # another split
    encodings.cached_encodings("weights-a", "train", "digits", (30, 3), encode(other))  # another data set
    assert other.encoded == 60 and len(list(cache_dir.glob("mu-*.npy"))) == 4 and not list(cache_dir.glob("*.tmp"))


@pytest.mark.parametrize("content", ["wrong shape", "truncated", "pickle", "nan", "junk"])
def test_a_bad_encodings_file_is_a_miss_and_is_replaced(cache_dir, content):
    name = encodings.key("w", "test", "mnist5k")
    cache_dir.mkdir(parents=True)
    path = cache_dir / f"{name}.npy"
    good = np.ones((30, 3), np.float32)
    if content == "wrong shape":
        np.save(path, np.ones((30, 4), np.float32))
    elif content == "truncated":
        np.save(path, good)
        path.write_bytes(path.read_bytes()[:-8])
    elif content == "pickle":
        np.save(path, np.array([{"a": 1}] * 30, dtype=object), allow_pickle=True)
    elif content == "nan":
        np.save(path, np.full((30, 3), np.nan, np.float32))
    else:
        path.write_bytes(b"not an npy file")
    assert encodings.load(name, (30, 3)) is None
    mu, hit = encodings.cached_encodings("w", "test", "mnist5k", (30, 3), lambda: good)
    assert not hit and np.array_equal(encodings.load(name, (30, 3)), good)


def test_the_page_reads_a_split_s_encodings_from_disk_the_second_time(cache_dir, monkeypatch):
    from explorer.state import readings
    from training.analysis import latent

    readings._kept_splits.clear()  # nothing kept in memory by an earlier test: encoded, then written
    calls = []
    real = latent.encode_posterior
    monkeypatch.setattr(encodings, "encode_posterior", lambda *a, **k: calls.append(1) or real(*a, **k))
    open_map("train")
    assert calls and list(cache_dir.glob("mu-*.npy"))
    calls.clear()
    readings._kept_splits.clear()  # a restarted server: memory empty, the disk cache kept
    at = open_map("train")
    assert not calls and shown_points(at) == 4_000


def test_both_splits_of_a_binarised_shapes_model_with_its_factors(tmp_path):
    """Factor rows (N, 5) are joined like class labels; a --binarize run's training images are drawn once as 0/1
    pixels with their own fixed seed (training/vae/evaluate.py: split_images), the test images as before."""
    from streamlit.testing.v1 import AppTest

    from tests.test_app_explore import APP
    from tests.waiting import HANG_S
    from training.core.config import RunConfig
    from training.data import load_dataset
    from training.runs.checkpoint import write_views
    from training.vae.evaluate import split_images, test_images
    from training.vae.model import VAE

    config = RunConfig(model={"image_shape": (1, 16, 16), "hidden": (16,), "latent_dim": 4},
                       train={"dataset": "shapes", "dataset_size": 500, "binarize": True, "epochs": 1})
    torch.manual_seed(0)
    (tmp_path / "shapes").mkdir()
    write_views(tmp_path / "shapes", config, VAE(config.model).eval(), 1, [])
    data = load_dataset("shapes", image_size=16, channels=1, seed=0, dataset_size=500)
    train = split_images(config, data, "train")
    assert set(torch.unique(train).tolist()) == {0.0, 1.0}
    assert torch.equal(train, split_images(config, data, "train"))  # the same draw every time
    assert torch.equal(split_images(config, data, "test"), test_images(config, data))

    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"], at.session_state["runs_root"] = str(tmp_path / "shapes"), str(tmp_path)
    at.query_params["points"] = "all"
    at.switch_page("views/latent_map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert shown_points(at) == len(data.x_test) + len(data.x_train) == 500
    at.selectbox(key="map_color").set_value("rotation").run()
    assert not at.exception, [e.value for e in at.exception]

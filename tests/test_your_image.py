"""The Your image page (issue 25), run headless with Streamlit's AppTest on the bundled demos and on models from
elsewhere: a test image from the link, an uploaded file, a file that is not an image, New eps, Explore from here,
both languages. (AppTest does not run a component's front end: the drawing path is tests/e2e's.)"""

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import DEMOS, i18n
from tests.waiting import HANG_S

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"
PAGE = "views/your_image.py"


def open_page(demo: str = "mnist5k-z16", query: dict | None = None, run_path: Path | None = None,
              lang: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(run_path or DEMOS / demo)
    for key, value in {**(query or {}), **({"lang": lang} if lang else {})}.items():
        at.query_params[key] = value
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def image_urls(at: AppTest, key: str) -> list[str]:
    return [node.value[0] for node in at.get_by_key(key) if getattr(node, "type", None) == "image"]


def has(at: AppTest, key: str) -> bool:
    try:
        at.get_by_key(key)
    except KeyError:
        return False
    return True


def digit_png(size: int = 120) -> bytes:
    """A dark stroke on white, larger than the model's input: a "1" as a person would draw or photograph it."""
    image = np.full((size, size), 255, np.uint8)
    image[size // 6: size - size // 6, size // 2 - size // 16: size // 2 + size // 16] = 0
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.segmented_control(key="your_image_mode").set_value("upload").run()
    at.file_uploader(key="your_image_upload").set_value((name, data, mime)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_link_shows_test_image_17_and_its_terms_as_the_library_computes_them():
    at = open_page(query={"input": "test:17"})
    assert at.title[0].value == "Your image"
    assert at.segmented_control(key="your_image_mode").value == "pick"
    assert at.number_input(key="your_image_index").value == 17
    assert len(image_urls(at, "reconstruction")) == 1
    assert at.query_params["input"] == "test:17"

    from training.analysis.one_input import read_input
    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    run = load_run(DEMOS / "mnist5k-z16")
    c, h, _w = run.config.model.image_shape
    x = test_images(run.config, load_dataset(run.config.train.dataset, image_size=h, channels=c,
                                             seed=run.config.train.seed))[17]
    want = read_input(run.model, x, k=8, iwae_k=100, seed=0)
    shown = metrics(at)
    assert shown["−ELBO (E1)"] == f"{want.neg_elbo:.2f}"
    assert shown["KL (E4)"] == f"{want.kl:.2f}"
    assert shown["−ln q(x|z), sample 1"] == f"{want.recon_nll[0]:.2f}"
    assert shown["−ln q(x|z), mean of 8"] == f"{want.recon_nll_mean:.2f}"
    assert shown["IWAE, K = 100"] == f"{want.iwae_nll:.2f}"
    assert any("test images have a lower −ELBO than this x" in c.value for c in at.caption)  # the percentile
    posterior = at.session_state["your_input"]
    np.testing.assert_allclose(posterior["mu"], want.mu, atol=1e-5)
    np.testing.assert_allclose(posterior["sigma"], want.sigma, atol=1e-5)
    assert len(image_urls(at, "your_image_nearest")) == 8


def test_a_link_to_a_test_image_the_model_lacks_gets_one_sentence_and_the_canvas():
    at = open_page(query={"input": "test:99999"})
    assert [w.value for w in at.warning] == ["The link's input test:99999 does not fit this model: it has test images "
                                             "test:0 to test:999; your drawing is shown instead."]
    assert at.segmented_control(key="your_image_mode").value == "draw"
    assert not has(at, "reconstruction") and not at.metric  # an empty canvas: a hint, nothing else


def test_an_uploaded_png_is_prepared_read_and_becomes_the_sessions_input():
    at = open_page(query={"input": "test:17"})
    upload(at, "one.png", digit_png())
    assert not at.error
    assert len(image_urls(at, "reconstruction")) == 1
    assert "input" not in at.query_params  # a file is never put in the link
    assert set(metrics(at)) >= {"−ELBO (E1)", "KL (E4)", "IWAE, K = 100"}
    posterior = at.session_state["your_input"]
    assert posterior["source"] == ("your image {name}", {"name": "one.png"}) and len(posterior["mu"]) == 16

    from explorer.widgets.image_input import read_file
    from training.models.open import read_config

    image, prepared = read_file(digit_png(), read_config(DEMOS / "mnist5k-z16"))
    assert image.shape == (120, 120, 1) and prepared.x.shape == (1, 28, 28) and prepared.inverted
    assert prepared.x.max() > 0.9 and prepared.x[:, :3].max() < 0.05  # white ink on black, margins kept black


@pytest.mark.parametrize("name, data", [("notes.png", b"these are words, not pixels"), ("empty.png", b""),
                                        ("blank.png", None)])
def test_a_file_that_cannot_be_read_gets_one_sentence_and_nothing_else(name, data):
    if data is None:  # an image with nothing drawn on it
        buffer = io.BytesIO()
        Image.new("L", (64, 64), 255).save(buffer, format="PNG")
        data = buffer.getvalue()
    at = open_page(query={"input": "test:17"})
    assert at.session_state["your_input"] is not None
    upload(at, name, data)
    assert len(at.error) == 1 and at.error[0].value.count(". ") == 0 and at.error[0].value.endswith(".")
    assert not has(at, "reconstruction") and not at.metric and not at.get("plotly_chart")
    assert "your_input" not in at.session_state  # no stale posterior for the other pages either


def test_new_eps_changes_the_samples_but_not_the_posterior():
    at = open_page(query={"input": "test:17"})
    strip, first = image_urls(at, "samples"), at.session_state["your_input"]["mu"]
    recon = image_urls(at, "reconstruction")
    table = at.dataframe[0].value
    at.button(key="your_image_new_eps").click().run()
    assert not at.exception
    assert image_urls(at, "samples") != strip
    assert at.dataframe[0].value["ε_k"].tolist() != table["ε_k"].tolist()
    assert at.dataframe[0].value["μ_k"].tolist() == table["μ_k"].tolist()
    assert at.session_state["your_input"]["mu"] == first and image_urls(at, "reconstruction") == recon


def test_explore_from_here_makes_mu_the_latent_point_and_offers_the_pages():
    from explorer.state.latent_point import clip_round

    at = open_page(query={"input": "test:17"})
    assert not at.get("page_link")
    mu = at.session_state["your_input"]["mu"]
    at.button(key="your_image_explore").click().run()
    point = at.session_state["latent_point"]
    assert point["z"] == clip_round(mu) and point["source"] == (
        "μ(x) of test image {index}, read on the Your image page.", {"index": 17})
    assert len(at.get("page_link")) == 3
    at.switch_page("views/sliders.py").run()
    assert [at.slider(key=f"z_{i}").value for i in range(16)] == pytest.approx(clip_round(mu))


def test_a_2d_model_draws_the_posterior_among_the_test_encodings():
    at = open_page("mnist5k-z2", query={"input": "test:3"})
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # the posterior per dimension and the map
    assert charts[1].proto.spec.count('"name":"your image:') == 2  # the 2-sigma ellipse and mu
    assert len(at.session_state["your_input"]["sigma"]) == 2


def test_every_visible_word_is_translated_on_the_page(monkeypatch):
    monkeypatch.setenv(i18n.PSEUDO_ENV, "1")
    from tests.test_i18n import is_data, visible_texts

    for at in (open_page(query={"input": "test:17"}, lang="zh"), open_page("mnist5k-z2", lang="zh")):
        loose = [t for t in visible_texts(at) if "⟦" not in t and not is_data(t)]
        assert loose == []
    # AppTest formats a segmented control's options in its own thread, which has no visitor (English): choose the
    # way in in English, then switch the language, as a visitor may
    at = upload(open_page(query={"input": "test:17"}), "notes.png", b"not an image")
    at.query_params["lang"] = "zh"
    at.run()
    assert at.segmented_control(key="your_image_mode").value == "upload"
    assert len(at.error) == 1 and "⟦" in at.error[0].value
    assert [t for t in visible_texts(at) if "⟦" not in t and not is_data(t)] == []


def test_the_page_in_chinese():
    at = open_page(query={"input": "test:17"}, lang="zh")
    assert at.title[0].value == "你的图像"
    assert "−ELBO（E1）" in metrics(at) and "IWAE，K = 100" in metrics(at)


def _onnx_model(tmp_path: Path, dataset: str | None) -> Path:
    import torch

    from tests.test_onnx import TheirVAE, export_pair

    torch.manual_seed(0)
    meta = {"format": "vae-explorer/onnx", "version": 1, **({"dataset": dataset} if dataset else {})}
    return export_pair(TheirVAE().eval(), tmp_path / "their-vae", meta)


def test_an_onnx_model_of_8x8_digits_reads_a_test_image_and_an_upload(tmp_path):
    at = open_page(run_path=_onnx_model(tmp_path, "digits"), query={"input": "test:5"})
    assert len(image_urls(at, "reconstruction")) == 1 and "−ELBO (E1)" in metrics(at)
    upload(at, "one.png", digit_png())
    assert not at.error and len(image_urls(at, "reconstruction")) == 1
    assert len(at.session_state["your_input"]["mu"]) == 5 and len(image_urls(at, "your_image_nearest")) == 8


def test_a_model_without_a_data_set_reads_an_upload_and_says_why_there_is_no_comparison(tmp_path):
    at = open_page(run_path=_onnx_model(tmp_path, None), query={"input": "test:5"})
    assert len(at.warning) == 1 and "no test images" in at.warning[0].value
    upload(at, "one.png", digit_png())
    assert not at.error and len(image_urls(at, "reconstruction")) == 1 and "−ELBO (E1)" in metrics(at)
    assert [i.value for i in at.info] == ["This model does not name its data set, so there are no test images to pick "
                                          "from or to compare with."]
    assert not has(at, "your_image_nearest")


def test_ones_own_model_code_reads_a_test_image(tmp_path, monkeypatch):
    from training.models import adapter

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    monkeypatch.setenv(adapter.ENV, "tests.own_model_example:make")
    for name in [m for m in sys.modules if m.startswith("explorer")]:
        monkeypatch.delitem(sys.modules, name)  # the app reads its command line when it starts
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["input"] = "test:2"
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(image_urls(at, "reconstruction")) == 1 and "−ELBO (E1)" in metrics(at)
    assert len(at.session_state["your_input"]["mu"]) == 3


def test_the_figures_draw_the_posterior_against_the_prior():
    from explorer.figures import posterior

    mu, sigma = np.array([0.5, -1.0, 0.0]), np.array([0.2, 0.5, 1.0])
    fig = posterior.posterior_chart(mu, sigma, np.array([1.0, 2.0, 0.0]), [1, 0, 2], np.array([True, True, False]),
                                    ["z_0", "z_1", "z_2"])
    used, unused = (t for t in fig.data if t.type == "scatter" and t.error_y.array is not None)
    assert list(used.x) == ["z_1", "z_0"] and list(used.error_y.array) == [1.0, 0.4]  # KL order, 2 sigma
    assert list(unused.x) == ["z_2"]
    assert fig.layout.shapes[0].y0 == -2 and fig.layout.shapes[0].y1 == 2  # the prior's +-2 band
    ex, ey = posterior.ellipse(np.array([1.0, 2.0]), np.array([0.5, 0.25]))
    assert ex.max() == pytest.approx(2.0) and ex.min() == pytest.approx(0.0, abs=1e-3)
    assert ey.max() == pytest.approx(2.5, abs=1e-3) and ey.min() == pytest.approx(1.5, abs=1e-3)


NAN_MODEL = """
import numpy as np


class NanEncoder:
    image_shape = (1, 8, 8)
    dataset = "digits"

    def encode(self, x):
        mu = np.full((len(x), 2), np.nan, np.float32)
        return mu, np.zeros_like(mu)

    def decode(self, z):
        return np.full((len(z), 1, 8, 8), 0.5, np.float32)


def make():
    return NanEncoder()
"""


def test_an_encoder_that_gives_nan_is_one_sentence(tmp_path, monkeypatch):
    from training.models import adapter

    (tmp_path / "nan_model.py").write_text(NAN_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(adapter.ENV, "nan_model:make")
    for name in [m for m in sys.modules if m.startswith("explorer")]:
        monkeypatch.delitem(sys.modules, name)
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.query_params["input"] = "test:2"
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == ["The model's encoder gave values that are not finite numbers (NaN or "
                                           "infinity) for this image, so it has no posterior to show."]
    assert not has(at, "reconstruction") and not at.metric


def test_in_chinese_the_uploader_has_its_words_and_limit_and_a_file_over_it_gets_a_chinese_sentence():
    """Streamlit's uploader says "Upload" and the server's "64MB per file" in English; the page writes both in the
    visitor's language with the image limit (20 MB), which read_image's own sentence enforces."""
    from training.data.image_file import MAX_BYTES

    at = open_page(lang="zh")
    at.segmented_control(key="your_image_mode").set_value("upload").run()
    styles = [node.proto.body for node in at.get("html")]
    assert any('content: "上传"' in s and f'{MAX_BYTES // 2**20} MB"' in s for s in styles), styles
    at.file_uploader(key="your_image_upload").set_value(("big.png", b"\0" * (MAX_BYTES + 1), "image/png")).run()
    assert len(at.error) == 1 and "big.png" in at.error[0].value
    assert not any("a" <= c.lower() <= "z" for c in at.error[0].value.replace("big.png", "").replace("MB", ""))

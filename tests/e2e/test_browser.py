"""End-to-end in headless Chromium: what a person sees and does in the explorer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import choose, fill_number, fresh_name, idle, screenshot, uploaded
from benchmarks.harness import ROOT
from tests.waiting import HANG_MS

pytestmark = pytest.mark.e2e
PAGES = ["", "latent_map", "balance", "interpolate", "samples", "train", "models", "theory"]
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)


CHARTS_DRAWN = ("() => [...document.querySelectorAll('.js-plotly-plot')]"
                ".every(g => g._fullLayout && (g._fullData || []).length > 0)")


def decoded_src(page) -> str:
    img = page.locator(".st-key-decoded img").first
    img.wait_for(timeout=TIMEOUT)
    return img.get_attribute("src")


def wait_for_new_image(page, old: str) -> str:
    page.wait_for_function(
        "old => { const i = document.querySelector('.st-key-decoded img'); return i && i.src && !i.src.endsWith(old); }",
        arg=old.split("/")[-1], timeout=TIMEOUT)
    return decoded_src(page)


def test_opens_on_the_bundled_model_with_a_decoded_image(page, server):
    page.goto(server.url)
    src = decoded_src(page)
    assert src
    box = page.locator(".st-key-decoded img").first.bounding_box()
    assert box["width"] >= 200  # shown large
    assert page.locator(".st-key-z_0").count() == 1
    screenshot(page, "sliders")


def test_keyboard_moves_a_slider_and_changes_the_image(page, server):
    page.goto(server.url)
    before = decoded_src(page)
    slider = page.locator('.st-key-z_0 input[type="range"]')
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    after = wait_for_new_image(page, before)
    assert after != before
    assert float(slider.input_value()) > 0


def test_mouse_drag_moves_a_slider_and_changes_the_image(page, server):
    page.goto(server.url)
    before = decoded_src(page)
    idle(page)  # the page is drawn whole: nothing moves the slider between its measuring and the drag
    thumb = page.locator('.st-key-z_1 [data-testid="stSliderThumbValue"]').locator("..")
    box = thumb.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 80, y, steps=8)
    page.mouse.up()
    after = wait_for_new_image(page, before)
    assert after != before
    assert float(page.locator('.st-key-z_1 input[type="range"]').input_value()) < 0


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_without_an_exception_box(page, server, path):
    page.goto(f"{server.url}/{path}")
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=TIMEOUT)
    idle(page)
    page.wait_for_function(CHARTS_DRAWN)  # Plotly draws after the run: every chart has its traces
    idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stMain"] h1').first.inner_text().strip()
    screenshot(page, f"page-{path or 'sliders'}")


POINT_XY = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  const trace = gd._fullData.find(t => t.x && t.x.length > 0);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const i = Math.floor(trace.x.length / 2);
  gd.scrollIntoView({block: "center"});
  const at = gd.getBoundingClientRect();
  return [at.left + xa._offset + xa.l2p(trace.x[i]), at.top + ya._offset + ya.l2p(trace.y[i])];
}"""


def test_clicking_a_point_on_the_latent_map_shows_original_and_reconstruction(page, server):
    page.goto(f"{server.url}/latent_map")
    page.locator(".js-plotly-plot").first.wait_for(timeout=TIMEOUT)
    page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData; }",
                           timeout=TIMEOUT)
    idle(page)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # the point on screen, wherever the map lies
    x, y = page.evaluate(POINT_XY)
    page.mouse.click(x, y)
    page.get_by_text("reconstruction μ̃(μ(x))").wait_for(timeout=TIMEOUT)
    assert page.get_by_text(re.compile(r"test image \d+")).count() >= 1
    screenshot(page, "latent-map-selected")


def start_training(page, server, name: str, dataset: str, epochs: str) -> None:
    page.goto(f"{server.url}/train")
    page.locator(".st-key-train_dataset").wait_for(timeout=TIMEOUT)
    choose(page, "train_dataset", dataset)
    fill_number(page, "train_latent_dim", "2")
    page.locator(".st-key-train_hidden input").fill("32")
    fill_number(page, "train_epochs", epochs)
    page.locator(".st-key-train_name input").fill(name)
    page.get_by_role("button", name=re.compile("Start training")).click()


def test_training_from_the_train_page_runs_to_the_end_and_joins_the_model_list(page, server):
    name = fresh_name("e2e-tiny")
    start_training(page, server, name, "digits", "3")
    page.get_by_text(re.compile(r"Finished 3 epochs")).wait_for(timeout=TIMEOUT)
    # The caption can stream in before the charts below it, and Plotly draws asynchronously after the
    # page's last redraw: wait until the three charts (recon, KL, beta) are there, each with its traces.
    page.wait_for_function("() => { const gs = [...document.querySelectorAll('.js-plotly-plot')];"
                           " return gs.length >= 3 && gs.every(g => (g._fullData || []).length > 0); }",
                           timeout=TIMEOUT)
    assert page.locator(".js-plotly-plot").count() >= 3
    screenshot(page, "train-finished")
    page.goto(f"{server.url}/models")
    page.get_by_text(name).first.wait_for(timeout=TIMEOUT)


def test_stop_ends_a_training_from_its_page(page, server):
    start_training(page, server, fresh_name("e2e-stop"), "mnist5k", "500")
    page.get_by_text(re.compile(r"Epoch \d+ of 500")).first.wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name=re.compile(r"^(stop\s*)?Stop$", re.I)).first.click()
    page.get_by_text(re.compile(r"Stopped")).first.wait_for(timeout=TIMEOUT)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_corrupt_upload_shows_an_error_message_not_a_traceback(page, server):
    page.goto(f"{server.url}/models")
    page.locator(".st-key-upload_weights input[type=file]").wait_for(state="attached", timeout=TIMEOUT)
    page.locator(".st-key-upload_weights input[type=file]").set_input_files(
        files=[{"name": "model.safetensors", "mimeType": "application/octet-stream", "buffer": b"not a model" * 10}])
    page.locator(".st-key-upload_config input[type=file]").set_input_files(
        files=[{"name": "config.json", "mimeType": "application/json",
                "buffer": (ROOT / "explorer/demos/mnist5k-z2/config.json").read_bytes()}])
    uploaded(page, "upload_weights", "model.safetensors")
    uploaded(page, "upload_config", "config.json")
    page.get_by_role("button", name=re.compile("Check, save and use")).click()
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=TIMEOUT)
    assert "does not match the config" in error.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "upload-error")


def test_the_models_zip_downloads_and_uploads_back_as_one_file(page, server):
    """Issue 16, item 6: "all as .zip" gives a file the upload takes back (and a junk zip is one sentence)."""
    page.goto(f"{server.url}/models?model=mnist5k-z2&lang=en")
    button = page.get_by_role("button", name=re.compile("all as .zip"))
    button.wait_for(timeout=TIMEOUT)
    with page.expect_download(timeout=TIMEOUT) as download_info:
        button.click()
    data = Path(download_info.value.path()).read_bytes()
    assert data[:2] == b"PK"
    box = page.locator(".st-key-upload_zip input[type=file]")
    box.wait_for(state="attached", timeout=TIMEOUT)
    box.set_input_files(files=[{"name": "junk.zip", "mimeType": "application/zip", "buffer": b"PK not a zip"}])
    uploaded(page, "upload_zip", "junk.zip")
    page.get_by_role("button", name=re.compile("Check, save and use")).click()
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=TIMEOUT)
    assert "not a zip archive" in error.inner_text()
    box.set_input_files(files=[{"name": "mnist5k-z2.zip", "mimeType": "application/zip", "buffer": data}])
    uploaded(page, "upload_zip", "mnist5k-z2.zip")
    run_name = fresh_name("zip-round-trip")
    name = page.locator(".st-key-upload_name input")
    name.fill(run_name)
    name.press("Tab")  # the text input sends its value when it loses focus
    idle(page)
    page.get_by_role("button", name=re.compile("Check, save and use")).click()
    page.get_by_text(re.compile(rf"Saved as .*{run_name}")).first.wait_for(timeout=TIMEOUT)
    assert (server.runs_root / run_name / "model.safetensors").is_file()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_theory_says_plainly_which_decoder_the_model_uses(page, server):
    """Issue 16, item 7: the Gaussian equations of a Bernoulli model say so, not "Not this model's decoder"."""
    page.goto(f"{server.url}/theory?model=mnist5k-z16&lang=en")
    page.get_by_text(re.compile(r"This model's decoder is Bernoulli")).first.wait_for(timeout=TIMEOUT)
    assert page.get_by_text(re.compile(r"Not this model's decoder")).count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0

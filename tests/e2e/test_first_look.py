"""What a newcomer sees first, in headless Chromium (issue 16): a crisp first image and a labelled traversal
that follows the sliders, nothing fetched from anywhere but the app, the real-time pad's scale and names, two
different dimensions on the map, and the whole model description in the sidebar."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import idle, screenshot, settle
from tests.waiting import HANG_MS

pytestmark = pytest.mark.e2e
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)
PAGES = ["", "scrub", "latent_map", "balance", "interpolate", "samples", "train", "sweep", "models", "theory"]


def test_no_request_leaves_the_apps_own_address(page, server):
    own = urlsplit(server.url).netloc
    elsewhere = []
    page.on("request", lambda r: elsewhere.append(r.url)
            if urlsplit(r.url).scheme in ("http", "https", "ws", "wss") and urlsplit(r.url).netloc != own else None)
    for path in PAGES:
        page.goto(f"{server.url}/{path}?lang=en")
        settle(page)
        # icons, fonts and images load after the page settles: until the network is quiet and the fonts are in
        page.wait_for_load_state("networkidle")
        page.evaluate("() => document.fonts.ready.then(() => true)")
    assert elsewhere == []
    icon = page.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
    assert icon and all(urlsplit(h).netloc == own or h.startswith("data:") for h in icon)


def test_the_first_look_is_a_crisp_figure_and_a_labelled_traversal_that_follows_the_sliders(page, server):
    page.goto(f"{server.url}/?lang=en")
    settle(page)
    caption = page.locator(".st-key-decoded").inner_text()
    assert "μ(x) of test image 730, a typical 3" in caption  # explorer/demos/first_views.py
    grid = page.locator(".st-key-traversal_grid table.traversal")
    grid.wait_for(timeout=TIMEOUT)
    rows = grid.locator("th[scope=row]").all_inner_texts()
    assert len(rows) == 16 and all(r.startswith("z_") and "KL" in r for r in rows)
    assert grid.locator("thead th.v").all_inner_texts() == ["\u22123", "\u22122.25", "\u22121.5", "\u22120.75", "0",
                                                            "+0.75", "+1.5", "+2.25", "+3"]
    page.get_by_role("button", name="Reset to zero").first.wait_for(timeout=TIMEOUT)  # drawn above the sliders
    idle(page)
    assert page.get_by_role("button", name="Redraw").count() == 0
    assert page.get_by_role("button", name="Reset to zero").count() == 1
    assert page.get_by_role("button", name="Sample from the prior").count() == 1
    screenshot(page, "first-look")
    before = grid.locator("img").first.get_attribute("src")
    page.locator(".st-key-z_3 input[type=range]").focus()
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("old => { const i = document.querySelector('.st-key-traversal_grid table img'); "
                           "return i && i.getAttribute('src') !== old; }", arg=before, timeout=TIMEOUT)


def test_the_real_time_pad_shows_its_scale_and_names_its_dimensions_like_the_sliders(page, server):
    page.goto(f"{server.url}/scrub?lang=en")
    page.wait_for_function("() => window.latentPad && latentPad.modelId && latentPad.frames > 0", timeout=TIMEOUT)
    slider_labels = page.locator("#sliders .label").all_inner_texts()
    options = page.locator("#pad-x option").all_inner_texts()
    assert sorted(options) == sorted(slider_labels) and all("KL" in o for o in options)
    assert page.locator("#pad-y option").all_inner_texts() == options
    assert [page.locator(s).inner_text() for s in ("#x-min", "#x-max", "#y-min", "#y-max")] == \
        ["\u22124", "+4", "\u22124", "+4"]
    details = page.locator("#details")
    assert details.get_attribute("open") is None  # the timings are there, folded away
    assert not page.locator("#stats").is_visible()
    page.locator("#details summary").click()
    assert "decoded in the browser" in page.locator("#stats").inner_text()


def test_the_latent_map_never_offers_one_dimension_on_both_axes(page, server):
    page.goto(f"{server.url}/latent_map?lang=en&proj=dims&dims=4,4")
    settle(page)
    page.locator(".st-key-map_dim_y").wait_for(timeout=TIMEOUT)
    x = page.locator(".st-key-map_dim_x input").input_value()
    y = page.locator(".st-key-map_dim_y input").input_value()
    assert x != y  # a link's equal pair is not taken
    page.locator(".st-key-map_dim_y [role='combobox']").click()
    offered = page.get_by_role("option").all_inner_texts()
    assert x not in offered and len(offered) == 15


def test_the_sidebar_says_the_whole_model(page, server):
    page.goto(f"{server.url}/?lang=en")
    settle(page)
    details = page.locator(".st-key-model_details").inner_text()
    assert "mnist5k-z16" in details and "data set mnist5k" in details and "16 latent dimensions" in details

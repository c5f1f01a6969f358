"""A view is a link: move, copy the link from the sidebar, open it in a fresh browser, see the same view."""

from __future__ import annotations


import pytest

from tests.e2e.conftest import new_context, open_z2_at_zero, screenshot, settle
from tests.waiting import HANG_MS

pytestmark = pytest.mark.e2e
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)


def slider_values(page, z_dim: int) -> list[float]:
    return page.evaluate(f"() => [...Array({z_dim}).keys()].map(i => "
                         "+document.querySelector(`.st-key-z_${i} input[type=range]`).value)")


def decoded_src(page) -> str:
    return page.locator(".st-key-decoded img").first.get_attribute("src").split("/")[-1]


def copied_link(page) -> str:
    """Press the sidebar's Copy link and read what it put on the clipboard."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stExpander"]', has_text="Share this view")
    button = page.locator(".st-key-share_link button.copy")
    if not button.is_visible():
        box.locator("summary").click()
    button.wait_for(timeout=TIMEOUT)
    copies = int(button.get_attribute("data-copies") or 0)
    button.click()  # the count stays on the button; the word "Copied" shows only 1.5 s, which a busy browser can miss
    page.locator(f'.st-key-share_link button.copy[data-copies="{copies + 1}"]').wait_for(timeout=TIMEOUT)
    return page.evaluate("navigator.clipboard.readText()")


def test_a_link_reopens_the_same_model_page_and_z_in_a_fresh_browser(page, chromium, server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_z2_at_zero(page, server)
    before = decoded_src(page)
    page.locator(".st-key-z_1 input[type=range]").focus()
    for step in range(1, 7):  # one press at a time, each seen by the slider before the next
        page.keyboard.press("ArrowRight")
        page.wait_for_function("v => +document.querySelector('.st-key-z_1 input[type=range]').value >= v - 1e-9",
                               arg=round(0.05 * step, 2), timeout=TIMEOUT)
    page.wait_for_function("() => +document.querySelector('.st-key-z_1 input[type=range]').value > 0.29",
                           timeout=TIMEOUT)
    page.wait_for_function("old => !document.querySelector('.st-key-decoded img').src.endsWith(old)", arg=before,
                           timeout=TIMEOUT)
    settle(page)
    z, image = slider_values(page, 2), decoded_src(page)
    assert z[1] == pytest.approx(0.3)
    link = copied_link(page)
    assert "model=mnist5k-z2" in link and "z=0%2C0.3" in link and link.startswith(server.url), link
    assert "z=0%2C0.3" in page.url  # the address bar follows too

    fresh = new_context(chromium)
    try:
        other = fresh.new_page()
        other.goto(link)
        other.locator(".st-key-z_1 input[type=range]").wait_for(timeout=TIMEOUT)
        settle(other)
        assert other.locator('[data-testid="stMain"] h1').first.inner_text() == "Latent sliders"
        assert slider_values(other, 2) == pytest.approx(z)
        other.wait_for_function("src => document.querySelector('.st-key-decoded img').src.endsWith(src)", arg=image,
                                timeout=TIMEOUT)  # the same PNG, byte for byte (its URL names its content)
        screenshot(other, "view-link-reopened")
    finally:
        fresh.close()


def test_a_link_restores_the_maps_projection_and_point_and_interpolates_pair(page, server):
    page.goto(f"{server.url}/latent_map?model=mnist5k-z16&proj=dims&dims=3,5&point=17&lang=en")
    settle(page)
    page.get_by_text("test image 17").first.wait_for(timeout=TIMEOUT)
    assert page.locator(".st-key-map_method input[type=radio]:checked").evaluate("e => e.value") is not None
    checked = page.locator(".st-key-map_method label", has=page.locator("input:checked")).inner_text()
    assert checked.strip() == "two latent dims"
    assert "z_3 and z_5 on the grid" in page.locator('[data-testid="stMain"]').inner_text()

    page.goto(f"{server.url}/interpolate?model=mnist5k-z2&a=3&b=41&lang=en")
    settle(page)
    page.wait_for_function("() => document.querySelector('.st-key-interp_a input')?.value === '3' && "
                           "document.querySelector('.st-key-interp_b input')?.value === '41'", timeout=TIMEOUT)

    page.goto(f"{server.url}/?model=no-such-run&z=1,2,3&lang=en")
    settle(page)
    page.get_by_text("The link's model no-such-run is not offered here").wait_for(timeout=TIMEOUT)


def test_copy_link_still_copies_when_the_clipboard_api_never_answers(page, server):
    """Some headless browsers leave navigator.clipboard.writeText pending for ever: the button then copies the
    selected link the old way (execCommand) instead of waiting with it."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.add_init_script("navigator.clipboard.writeText = () => new Promise(() => {});")
    page.goto(f"{server.url}/?lang=en&model=mnist5k-z2")
    settle(page)
    link = copied_link(page)
    assert link.startswith(server.url) and "model=mnist5k-z2" in link, link

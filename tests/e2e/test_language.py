"""中文 and English in a real browser: the sidebar switch keeps page, model and z; two visitors in two
languages at once each keep their own; the browser's own language decides by default."""

from __future__ import annotations


import pytest

from tests.e2e.conftest import new_context, open_z2_at_zero, screenshot, settle
from tests.waiting import HANG_MS

pytestmark = pytest.mark.e2e
TIMEOUT = HANG_MS  # every wait is for an event; this is only the hang guard (tests/waiting.py)


def title(page) -> str:
    return page.locator('[data-testid="stMain"] h1').first.inner_text()


def wait_title(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('[data-testid=\"stMain\"] h1')?.innerText === t", arg=text,
                           timeout=TIMEOUT)


def slider_values(page, z_dim: int) -> list[float]:
    return page.evaluate(f"() => [...Array({z_dim}).keys()].map(i => "
                         "+document.querySelector(`.st-key-z_${i} input[type=range]`).value)")


def picked_model(page) -> str:
    """The model picker's shown value (its searchable input holds it)."""
    box = page.locator(".st-key-model_picker")
    return " ".join([box.inner_text(), *[i.input_value() for i in box.locator("input").all()],
                     box.evaluate("e => e.textContent")])


def test_the_sidebar_switch_keeps_the_page_the_model_and_z(page, server):
    open_z2_at_zero(page, server)
    assert title(page) == "Latent sliders"
    image = page.locator(".st-key-decoded img").first.get_attribute("src")
    page.locator(".st-key-z_1 input[type=range]").focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("old => { const i = document.querySelector('.st-key-decoded img'); "
                           "return i && !i.src.endsWith(old); }", arg=image.split("/")[-1], timeout=TIMEOUT)
    settle(page)
    before = slider_values(page, 2)
    assert before[1] == pytest.approx(0.2)

    page.locator('[data-testid="stSidebar"]').get_by_text("中文", exact=True).click()
    wait_title(page, "隐变量滑块")
    settle(page)
    assert "lang=zh" in page.url and "/scrub" not in page.url  # same page, the choice in the link
    assert "mnist5k-z2 (示例" in picked_model(page)
    assert slider_values(page, 2) == pytest.approx(before)
    page.get_by_text("解码器均值 μ̃(z)").first.wait_for(timeout=TIMEOUT)  # the page streams in after its title
    screenshot(page, "zh-latent-sliders")

    page.locator('[data-testid="stSidebarNav"] a', has_text="理论").click()  # the page links speak Chinese too
    wait_title(page, "理论")
    settle(page)
    page.get_by_text("E1 · 目标函数").wait_for(timeout=TIMEOUT)
    assert "mnist5k-z2 (示例" in picked_model(page)
    screenshot(page, "zh-theory")


def test_two_visitors_in_two_languages_at_once_each_keep_their_own(chromium, server):
    zh_ctx = new_context(chromium, locale="en-US")
    en_ctx = new_context(chromium, locale="zh-CN")
    try:
        zh, en = zh_ctx.new_page(), en_ctx.new_page()
        zh.goto(f"{server.url}/balance?lang=zh")  # the link wins over each browser's own language
        en.goto(f"{server.url}/balance?lang=en")
        settle(zh)
        settle(en)
        assert (title(zh), title(en)) == ("权衡", "Balance")
        for _ in range(2):  # both keep their language as they move on, at the same time
            zh.locator('[data-testid="stSidebarNav"] a', has_text="采样").click()
            en.locator('[data-testid="stSidebarNav"] a', has_text="Samples").click()
            wait_title(zh, "采样")
            wait_title(en, "Samples")
            zh.locator('[data-testid="stSidebarNav"] a', has_text="权衡").click()
            en.locator('[data-testid="stSidebarNav"] a', has_text="Balance").click()
            wait_title(zh, "权衡")
            wait_title(en, "Balance")
        settle(zh)
        screenshot(zh, "zh-balance")
    finally:
        zh_ctx.close()
        en_ctx.close()


def test_the_browsers_language_decides_when_the_link_does_not(chromium, server):
    ctx = new_context(chromium, locale="zh-CN")
    try:
        page = ctx.new_page()
        page.goto(f"{server.url}/train")
        settle(page)
        assert title(page) == "训练一个 VAE"
        page.get_by_role("button", name="开始训练").wait_for(timeout=TIMEOUT)
        screenshot(page, "zh-train")
    finally:
        ctx.close()

"""The pages of benchmarks/load.py: what each visitor's page measures itself, and the Train page's form."""

from __future__ import annotations

import re

IMAGE_READY = ("() => { const i = document.querySelector('.st-key-decoded img'); "
               "return i && i.complete && i.naturalWidth > 0; }")
VIEWPORT = {"width": 1200, "height": 900}

# In the page: every key press that finds no press waiting starts a wait (performance.now()); the next decoded
# image with a new source ends it, and the wait goes into window.__lat. A press made while an earlier one still
# waits joins that wait (the visitor waits from the older press). Installed again at each phase: resets.
WATCH = """() => {
  window.__lat = []; window.__pending = 0;
  if (!window.__watching) {
    window.__watching = true;
    document.addEventListener('keydown', () => { if (!window.__pending) window.__pending = performance.now(); }, true);
    const seen = new WeakSet();
    const hook = img => { if (seen.has(img)) return; seen.add(img);
      img.addEventListener('load', () => {
        if (img.src === window.__src) return;
        window.__src = img.src;
        if (window.__pending) { window.__lat.push(performance.now() - window.__pending); window.__pending = 0; }
      }); };
    const scan = () => document.querySelectorAll('.st-key-decoded img').forEach(hook);
    new MutationObserver(scan).observe(document.body, {subtree: true, childList: true});
    scan();
  }
  const img = document.querySelector('.st-key-decoded img'); if (img) window.__src = img.src;
}"""


def collect(pages, left_ms, wait_s: float = 60.0) -> tuple[list[float], int]:
    """Every page's measured waits once its last press has been answered (all pages together wait at most
    WAIT_S more), and how many pages still waited for an image then."""
    import time

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    latencies: list[float] = []
    unanswered = 0
    until = time.monotonic() + wait_s
    for page in pages:
        try:
            wait_ms = min(max(1, int((until - time.monotonic()) * 1000)), left_ms())
            page.wait_for_function("() => !window.__pending", timeout=wait_ms, polling=50)
        except PlaywrightTimeout:
            unanswered += 1
        latencies += page.evaluate("window.__lat")
    return latencies, unanswered


def start_training(page, url: str, name: str, epochs: int, timeout_ms: int) -> None:
    """Fill the Train page's form as tests/e2e/test_browser.py does, and press Start training."""
    page.goto(f"{url}/train")
    page.locator(".st-key-train_dataset").wait_for(timeout=timeout_ms)
    page.locator(".st-key-train_dataset [role='combobox']").click()
    page.get_by_role("option", name="mnist5k", exact=True).click()
    for key, value in (("train_latent_dim", "2"), ("train_epochs", str(epochs))):
        box = page.locator(f".st-key-{key} input")
        box.fill(value)
        box.press("Tab")
    page.locator(".st-key-train_hidden input").fill("32")
    page.locator(".st-key-train_name input").fill(name)
    page.get_by_role("button", name=re.compile("Start training")).click()
    page.get_by_text(re.compile(r"Loading the data set|Epoch \d+ of|queued|Waiting for a free slot")).first.wait_for(
        timeout=timeout_ms)

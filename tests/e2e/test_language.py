"""中文 and English in a real browser: the sidebar switch keeps page, model and z; two visitors in two
languages at once each keep their own; the browser's own language decides by default; every text of the
project's own that a Chinese visitor sees on any page is Chinese (names alone stay as they are)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import idle, new_context, open_z2_at_zero, screenshot, settle
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
    assert "mnist5k-z2 · 示例" in picked_model(page)
    assert slider_values(page, 2) == pytest.approx(before)
    page.get_by_text("解码器均值 μ̃(z)").first.wait_for(timeout=TIMEOUT)  # the page streams in after its title
    screenshot(page, "zh-latent-sliders")

    page.locator('[data-testid="stSidebarNav"] a', has_text="理论").click()  # the page links speak Chinese too
    wait_title(page, "理论")
    settle(page)
    page.get_by_text("E1 · 目标函数").wait_for(timeout=TIMEOUT)
    assert "mnist5k-z2 · 示例" in picked_model(page)
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


# What a Chinese page may show in Latin letters: names, never words. Run and data set names, files, paths and
# commands (in code), math (KaTeX, symbols, subscripts z_k and σ_min, mu(x), ln, sin, diag), the figures' own names (KL, ELBO, MIG, ONNX,
# PCA, t-SNE, UMAP, VAE, NMI, IWAE, E1..E7), formats (PNG, JSON, ZIP, safetensors, pickle), MB, people and
# libraries named by the Theory page, and "English" (the language switch names each language in its own words).
NAMES = re.compile(
    r"[\w.-]*\d[\w.-]*|[\w-]*\.(?:json|jsonl|onnx|safetensors|zip|md|png|py)\b|\S*/\S*|\w*_\w+|"
    r"\b(?:shapes-beta|mnist5k|digits|shapes|fashion|cifar10|KL|ELBO|MIG|ONNX|PCA|t-SNE|UMAP|VAE|NMI|IWAE|PNG|SVG|JSON|ZIP|"
    r"SAFETENSORS|safetensors|pickle|README|MB|mu|ln|exp|sin|cos|diag|logvar|logit|sigmoid|softplus|max|Kingma|"
    r"Welling|Keras|English|zN)\b|(?<![A-Za-z])[A-Za-z](?:_[A-Za-z0-9]+)?(?![A-Za-z])")
WORD = re.compile(r"[A-Za-z]{2,}")
# Every visible text node of the page (shadow roots included), a dropdown's shown choice, a field's placeholder:
# not Material icons (their ligature is a name),
# math (KaTeX), code, nor what is not drawn (a skip link off screen, a text Streamlit writes that the page
# replaced by its own words with a zero font size).
VISIBLE_TEXTS = """() => { const out = [];
  const walk = root => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.nodeType === Node.ELEMENT_NODE) {
        if (n.shadowRoot) walk(n.shadowRoot);
        if (n.matches('input, textarea') && n.checkVisibility()) {  // a dropdown's shown choice, a placeholder
          if (n.getAttribute('role') === 'combobox') { if (n.value) out.push(n.value); }
          else if (n.placeholder && !n.value) out.push(n.placeholder);
        }
        continue;
      }
      const text = n.textContent.trim(), e = n.parentElement;
      if (!text || !e || e.closest('script, style, code, pre, .katex, [data-testid="stIconMaterial"]')) continue;
      const style = getComputedStyle(e);
      if (!e.checkVisibility({visibilityProperty: true}) || style.fontSize === '0px') continue;
      if (style.fontFamily.includes('Material')) continue;
      const r = e.getBoundingClientRect();
      if (r.right <= 0 || r.bottom <= 0 || r.width * r.height === 0) continue;
      out.push(text);
    }
  };
  walk(document.body);
  return out; }"""
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
  .every(c => c.querySelector('.main-svg .xtick, .main-svg .legendtext'))"""
# Each page is read once its last part is drawn (an element's arrival: an event, not an amount of time).
PAGES = {"": ".st-key-decoded img", "scrub": "window.latentPad && latentPad.frames > 0",
         "latent_map": '[data-testid="stPlotlyChart"] .main-svg', "balance": ".st-key-balance_rd .main-svg",
         "interpolate": ".st-key-interp_to_sliders", "samples": '[data-testid="stMain"] img',
         "train": ".st-key-train_epochs input", "sweep": '[data-testid="stMain"] [data-testid="stAlert"]',
         "models": '[data-testid="stMain"] [data-testid="stDownloadButton"]',
         "theory": '[data-testid="stMain"] .katex', "your_image": ".st-key-reconstruction img"}
MORE = {"your_image": "&input=test:17"}  # the page whole: a test image read, every section drawn


def visible_texts(page) -> list[str]:
    texts = page.evaluate(VISIBLE_TEXTS)
    for frame in page.frames[1:]:  # components in frames, if any
        texts += frame.evaluate(VISIBLE_TEXTS)
    return texts


def page_drawn(page, path: str) -> None:
    """Until PATH's last part is there and every chart is drawn."""
    marker = PAGES[path]
    page.wait_for_function(f"() => {marker}" if marker.startswith("window") else
                           f"() => !!document.querySelector({marker!r})", timeout=TIMEOUT)
    idle(page)
    page.wait_for_function(CHARTS_DRAWN, timeout=TIMEOUT)


def english_words(text: str) -> list[str]:
    """The Latin words of TEXT that are no name."""
    return WORD.findall(NAMES.sub(" ", text))


def test_every_page_in_chinese_shows_the_projects_own_texts_in_chinese(page, server):
    left, counted = {}, {}
    for path in PAGES:
        page.goto(f"{server.url}/{path}?lang=zh&model=mnist5k-z16" + MORE.get(path, ""))
        settle(page)
        page_drawn(page, path)
        bearing = [t for t in visible_texts(page) if WORD.search(t)]
        counted[path or "sliders"] = len(bearing)
        left[path or "sliders"] = sorted({t for t in bearing if english_words(t)})
        screenshot(page, f"zh-{path or 'sliders'}")
    print("texts with Latin words per page:", counted)
    assert sum(counted.values()) > 50  # the check sees the pages (their names, formulas, figures)
    assert {p: t for p, t in left.items() if t} == {}, "English words on a Chinese page"


LONG_NAME = "my-onnx-export-of-the-two-dimensional-demo"
ONE_LINE = "e => e.scrollWidth <= e.clientWidth + 1 && e.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(e).lineHeight || '20')"


@pytest.mark.parametrize("lang, tag", [("en", "ONNX"), ("zh", "ONNX")])
def test_the_model_picker_reads_on_one_line_with_a_long_name(page, server, lang, tag):
    import shutil
    import subprocess
    import sys

    from explorer import DEMOS

    folder = server.runs_root / LONG_NAME
    subprocess.run([sys.executable, "-m", "training", "export", str(DEMOS / "mnist5k-z2"), "--out", str(folder)],
                   check=True, capture_output=True)
    try:
        page.goto(f"{server.url}/models?lang={lang}&model={LONG_NAME}")
        settle(page)
        box = page.locator('.st-key-model_picker input[role="combobox"]')
        shown = box.input_value()
        assert shown.startswith("my-onnx") and shown.endswith(f"· {tag}") and "…" in shown, shown
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), shown  # the closed box holds all of it
        details = page.locator(".st-key-model_details").inner_text()
        assert LONG_NAME in details.replace("\n", "") and "β" not in details  # the whole name under it, no β
        box.click()
        options = page.get_by_role("option")
        options.first.wait_for(timeout=TIMEOUT)
        texts = options.all_inner_texts()
        assert any(t.endswith(f"· {tag}") for t in texts) and all("\n" not in t for t in texts), texts
        for option in options.all():
            assert option.locator("> div").first.evaluate(ONE_LINE), option.inner_text()
        screenshot(page, f"{lang}-model-picker")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

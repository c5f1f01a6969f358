"""A box drawn on the Latent map, in Chromium: the dots inside it become the selection (counted on the page, kept
coloured on the redrawn map while the others are greyed), and Clear selection gives the plain map back."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import idle, screenshot, settle

pytestmark = pytest.mark.e2e

CHART = ".st-key-latent_map_scatter .js-plotly-plot"
DOTS = """() => { const g = document.querySelector('%s');
  if (!g || !g._fullData || !g._fullLayout.xaxis) return null;
  const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, box = g.getBoundingClientRect(), out = [];
  for (const t of g._fullData) { if (!t.customdata || !t.x) continue;
    for (let k = 0; k < t.x.length; k++) out.push({i: Number(t.customdata[k]), sel: !t.selectedpoints ||
      Array.from(t.selectedpoints).includes(k), px: box.left + xa._offset + xa.l2p(t.x[k]),
      py: box.top + ya._offset + ya.l2p(t.y[k])}); }
  return out; }""" % CHART


def test_a_box_drawn_on_the_map_selects_its_dots_and_greys_the_others(page, server):
    page.goto(f"{server.url}/latent_map?lang=en&model=mnist5k-z16&proj=pca")
    settle(page)
    page.wait_for_function(f"({DOTS})() && ({DOTS})().length > 0")
    page.locator(CHART).first.scroll_into_view_if_needed()
    page.locator(CHART).first.hover()
    page.locator(f'{CHART} .modebar-btn[data-title="Box Select"]').first.click()
    dots = page.evaluate(DOTS)  # where each dot is on the screen, as the box is drawn
    area = page.locator(f"{CHART} .nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + area["width"] * 0.3, area["y"] + area["height"] * 0.3
    x1, y1 = x0 + area["width"] * 0.25, y0 + area["height"] * 0.25
    inside = {d["i"] for d in dots if x0 + 2 < d["px"] < x1 - 2 and y0 + 2 < d["py"] < y1 - 2}
    near = {d["i"] for d in dots if x0 - 2 <= d["px"] <= x1 + 2 and y0 - 2 <= d["py"] <= y1 + 2}
    assert len(inside) > 1
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    page.get_by_text("test images selected").first.wait_for()
    idle(page)
    page.wait_for_function(f"({DOTS})() && ({DOTS})().some(d => !d.sel)")  # the map redrawn with the others greyed
    selected = {d["i"] for d in page.evaluate(DOTS) if d["sel"]}
    assert inside <= selected <= near
    said = page.get_by_text("test images selected").first.inner_text()
    assert said.startswith(f"{len(selected)} test images selected (drawn on the map)")
    screenshot(page, "latent-map-box-selection")
    inside_dot = next(d for d in page.evaluate(DOTS) if d["sel"] and d["i"] in inside)
    page.mouse.click(inside_dot["px"], inside_dot["py"])  # a click beside the selection: one point, as before
    page.get_by_text(f"test image {inside_dot['i']}", exact=True).first.wait_for()
    idle(page)
    page.wait_for_function(f"sel => ({DOTS})() && ({DOTS})().filter(d => d.sel).length === sel",
                           arg=len(selected))  # the selection still drawn, not Plotly's one clicked dot
    assert {d["i"] for d in page.evaluate(DOTS) if d["sel"]} == selected
    assert page.get_by_text("test images selected").first.inner_text() == said
    page.get_by_role("button", name="Clear selection").click()
    page.get_by_text("test images selected").first.wait_for(state="detached")
    idle(page)
    page.wait_for_function(f"({DOTS})() && ({DOTS})().every(d => d.sel)")

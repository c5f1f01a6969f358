"""The Latent map drawn by regl-scatterplot (explorer/widgets/map_canvas), in Chromium: forced on a 1,000-point
model by VAE_EXPLORER_MAP_RENDERER=regl (the app picks it by itself above 10,000 points). Hover shows the point's
image, a click opens it, a lasso selects what it encloses and greys the rest, nothing is fetched from elsewhere,
and the axes' ticks follow the library's own camera."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

import pytest

from benchmarks.harness import Server
from tests.e2e.conftest import ROOT, idle, next_frame, require_browser, screenshot, settle

pytestmark = pytest.mark.e2e
CANVAS = ".st-key-latent_map_canvas canvas.points"
READY = "() => window.mapCanvas && window.mapCanvas.ready"
WHERE = "n => [...Array(n).keys()].map(i => window.mapCanvas.screenOf(i))"


@pytest.fixture(scope="module")
def regl_server(tmp_path_factory):
    require_browser()
    server = Server(ROOT / "explorer" / "app.py", tmp_path_factory.mktemp("runs"),
                    env={"VAE_EXPLORER_MAP_RENDERER": "regl"})
    yield server
    server.stop()


def _inside(px: float, py: float, polygon: list[tuple[float, float]]) -> bool:
    hit = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1]):
        if (y0 > py) != (y1 > py) and px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def _coloured(page, n: int = 1000) -> set[int]:
    """The points the map draws in their own colour, not in the grey of the unselected."""
    colours = page.evaluate("n => [...Array(n).keys()].map(i => window.mapCanvas.colourOf(i))", n)
    grey = [round(196 / 255, 3)] * 3 + [1]
    return {i for i, c in enumerate(colours) if not (c and [round(v, 3) for v in c] == grey)}


def _edge_distance(p, polygon: list[tuple[float, float]]) -> float:
    """The distance from P to the nearest side of POLYGON (not its nearest corner)."""
    best = math.inf
    for a, b in zip(polygon, polygon[1:] + polygon[:1]):
        (ax, ay), (bx, by) = a, b
        t = max(0.0, min(1.0, ((p[0] - ax) * (bx - ax) + (p[1] - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)))
        best = min(best, math.dist(p, (ax + t * (bx - ax), ay + t * (by - ay))))
    return best


def test_hover_click_and_lasso_on_the_regl_map_and_nothing_from_elsewhere(page, regl_server):
    own, elsewhere = urlsplit(regl_server.url).netloc, []
    page.on("request", lambda r: elsewhere.append(r.url)
            if urlsplit(r.url).scheme in ("http", "https", "ws", "wss") and urlsplit(r.url).netloc != own else None)
    page.goto(f"{regl_server.url}/latent_map?lang=en&model=mnist5k-z16&proj=pca")
    settle(page)
    page.wait_for_function(READY)
    assert page.locator(".st-key-latent_map_scatter").count() == 0  # not Plotly
    assert page.locator(".st-key-latent_map_canvas .count").inner_text() == "1,000 points"
    page.locator(CANVAS).scroll_into_view_if_needed()
    next_frame(page)

    # hover: the thumbnail of the point under the pointer (explorer/widgets/map_thumbs)
    where = page.evaluate(WHERE, 1000)
    target = next(i for i, p in enumerate(where) if p and all(
        q is None or j == i or math.dist(p, q) > 8 for j, q in enumerate(where)))  # a point with room around it
    page.mouse.move(*where[target])
    page.wait_for_function("i => window.mapThumbs && window.mapThumbs.visible && window.mapThumbs.shown === i",
                           arg=target)
    caption = page.locator(".st-key-map_thumbs .caption").inner_text()
    assert caption.startswith(f"{target} · ") and caption.split(" · ")[1].isdigit()  # its index and its class

    # click: the point opens on the right
    page.mouse.click(*where[target])
    page.get_by_text(f"test image {target}", exact=True).first.wait_for()
    idle(page)

    # lasso (Shift and drag): what it encloses becomes the selection, the rest greyed
    page.wait_for_function(READY)
    box = page.locator(CANVAS).bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"] / 5
    ring = [(cx + r * math.cos(2 * math.pi * k / 48), cy + r * math.sin(2 * math.pi * k / 48)) for k in range(48)]
    where = page.evaluate(WHERE, 1000)
    inside = {i for i, p in enumerate(where) if p and _inside(*p, ring) and _edge_distance(p, ring) > 3}
    near = {i for i, p in enumerate(where) if p and (_inside(*p, ring) or _edge_distance(p, ring) <= 3)}
    assert len(inside) > 5
    page.keyboard.down("Shift")
    page.mouse.move(*ring[0])
    page.mouse.down()
    for point in ring[1:] + ring[:1]:
        page.mouse.move(*point)
    page.mouse.up()
    page.keyboard.up("Shift")
    said = page.get_by_text("test images selected").first
    said.wait_for()
    idle(page)
    page.wait_for_function(READY)
    grey = page.evaluate("() => window.mapCanvas.colourOf(-1) ?? null")
    assert grey is None
    selected = _coloured(page)
    assert inside <= selected <= near
    assert said.inner_text().startswith(f"{len(selected)} test images selected (drawn on the map)")
    screenshot(page, "latent-map-regl-lasso")
    assert elsewhere == []


def test_the_axes_follow_the_librarys_camera_after_a_pan(page, regl_server):
    page.goto(f"{regl_server.url}/latent_map?lang=en&model=mnist5k-z16&proj=pca")
    settle(page)
    page.wait_for_function(READY)
    page.locator(CANVAS).scroll_into_view_if_needed()
    box = page.locator(CANVAS).bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6
    draws = page.evaluate("() => window.mapCanvas.draws")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y - 60, steps=8)
    page.mouse.up()
    page.wait_for_function("d => window.mapCanvas.draws > d", arg=draws)
    next_frame(page)
    ours = page.evaluate(WHERE, 1000)
    theirs = page.evaluate("n => [...Array(n).keys()].map(i => window.mapCanvas.libraryScreenOf(i))", 1000)
    ours, theirs = zip(*[(a, b) for a, b in zip(ours, theirs) if a])  # those on the canvas
    assert len(ours) > 3
    for a, b in zip(ours, theirs):
        assert math.dist(a, b) < 0.5


def test_a_box_drawn_with_shift_selects_the_points_inside_it(page, regl_server):
    page.goto(f"{regl_server.url}/latent_map?lang=en&model=mnist5k-z16&proj=pca")
    settle(page)
    page.wait_for_function(READY)
    page.locator(CANVAS).scroll_into_view_if_needed()
    page.locator(".st-key-latent_map_canvas button.rectangle").click()
    box = page.locator(CANVAS).bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35
    x1, y1 = x0 + box["width"] * 0.2, y0 + box["height"] * 0.25
    where = page.evaluate(WHERE, 1000)
    inside = {i for i, p in enumerate(where) if p and x0 + 3 < p[0] < x1 - 3 and y0 + 3 < p[1] < y1 - 3}
    near = {i for i, p in enumerate(where) if p and x0 - 3 <= p[0] <= x1 + 3 and y0 - 3 <= p[1] <= y1 + 3}
    assert len(inside) > 5
    page.keyboard.down("Shift")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 0.5, y0 + 0.5)  # the library's box starts at the first move after the press
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=6)
    page.mouse.move(x1, y1, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    said = page.get_by_text("test images selected").first
    said.wait_for()
    idle(page)
    page.wait_for_function(READY)
    selected = _coloured(page)
    assert inside <= selected <= near
    assert said.inner_text().startswith(f"{len(selected)} test images selected (drawn on the map)")


def test_while_the_camera_moves_a_large_map_draws_an_even_share_and_all_of_it_at_rest(page, regl_server):
    """Level of detail (canvas.js, MOVING_POINTS): above it a moving map draws every k-th point, so software
    WebGL keeps its frame rate; here the limit is lowered to 400 on the 1,000-point demo."""
    page.goto(f"{regl_server.url}/latent_map?lang=en&model=mnist5k-z16&proj=pca")
    settle(page)
    page.wait_for_function(READY)
    page.evaluate("() => { window.mapCanvas.movingPoints = 400; }")
    page.locator(CANVAS).scroll_into_view_if_needed()
    drawn = "() => window.mapCanvas.plot().get('filteredPoints').length"
    page.wait_for_function(f"() => ({drawn})() === 1000")  # at rest (a view change just now filters a moment)
    box = page.locator(CANVAS).bounding_box()
    x, y = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 10, steps=4)
    page.wait_for_function(f"() => ({drawn})() === 334")  # every third point: ceil(1000 / 400) = 3
    page.mouse.move(x + 80, y + 20, steps=4)
    page.mouse.up()
    page.wait_for_function(f"() => ({drawn})() === 1000")  # at rest, all of them again
    idle(page)
    assert page.get_by_text("test images selected").count() == 0  # moving selected nothing
    assert page.get_by_text("Click a point to see its test image").count() == 1  # and picked nothing

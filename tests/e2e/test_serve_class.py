"""A class on two servers behind nginx (deploy/serve_class.py), in headless Chromium: a training started through
one server is shown live through the other, and each visitor stays on its own server across reruns and reloads.

nginx keeps a visitor on one server by a cookie it sets on the first request (deploy/nginx.conf.template), answers
every HTTP response with the server that made it (X-Upstream), and logs every request with that server and the
visitor's key, the websocket (/_stcore/stream) included once it closes. Without nginx these tests skip; with
VAE_EXPLORER_REQUIRE_NGINX=1 (set by .ci/run) or CI=true they fail instead.
"""

from __future__ import annotations

import os

import pytest

from deploy.serve_class import ServedClass, free_port, nginx_path
from tests.e2e.conftest import idle, new_context, require_browser, settle
from tests.e2e.test_trainings import kill_trainings, shows_live_run, start_training, wait_epoch_above
from tests.waiting import HANG_MS, until

pytestmark = pytest.mark.e2e
TRIES = 40  # new visitors opened to meet the other server: each lands there with odds 1/2, so 40 all miss 1 in 10^12
STREAM = "GET /_stcore/stream"


def require_nginx() -> str:
    path = nginx_path()
    if path is None:
        reason = "nginx is missing (apt-get install -y nginx-light)"
        if os.environ.get("VAE_EXPLORER_REQUIRE_NGINX") == "1" or os.environ.get("CI") == "true":
            pytest.fail(f"the class-behind-a-proxy tests are required here but {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two explorer servers on one fresh runs folder behind nginx (cookie affinity), on free ports."""
    require_browser()
    require_nginx()
    runs = tmp_path_factory.mktemp("class-runs")
    with ServedClass(runs, [free_port(), free_port()], free_port()) as served:
        yield served
    kill_trainings(runs)


def log_lines(served) -> list[tuple[str, str, str, str]]:
    """nginx's access log as (server index, visitor key, request, status), one a request."""
    lines = []
    for line in served.access_log.read_text().splitlines():
        _, upstream, key, request, status = line.split("\t")
        lines.append((served.upstream_of(upstream), key, request, status))
    return lines


def visitor_on(chromium, served, index: int, path: str = "/?lang=en"):
    """A new browser context (a visitor) that nginx placed on server INDEX, with PATH open and settled: new
    visitors are opened until one lands there (each gets a random key). (context, page, its key)."""
    for _ in range(TRIES):
        context = new_context(chromium)
        page = context.new_page()
        answer = page.goto(served.url + path)
        if served.upstream_of(answer.headers.get("x-upstream", "")) == index:
            settle(page)
            key = {c["name"]: c["value"] for c in context.cookies()}["vae_server"]
            return context, page, key
        context.close()
    raise AssertionError(f"{TRIES} new visitors in a row were all placed away from server {index}")


def requests_of(served, key: str, streams: int) -> list[tuple[str, str, str, str]]:
    """The logged requests of the visitor KEY, once its STREAMS websockets have closed and been logged."""
    until(lambda: sum(k == key and r == STREAM for _, k, r, _ in log_lines(served)) >= streams,
          f"nginx logs {streams} closed websockets of visitor {key}")
    return [line for line in log_lines(served) if line[1] == key]


def move_slider(page) -> None:
    """One arrow key on z_0 and the rerun it causes: the decoded image changes."""
    old = page.locator(".st-key-decoded img").first.get_attribute("src")
    page.locator('.st-key-z_0 input[type="range"]').press("ArrowRight")
    page.wait_for_function("old => { const i = document.querySelector('.st-key-decoded img');"
                           " return i && i.src && i.src !== old; }", arg=old, timeout=HANG_MS)
    idle(page)


def test_a_training_started_through_one_server_is_live_through_the_other(chromium, served):
    name, epochs = "class-live", 1993  # more epochs than it trains before the fixture stops it
    starter, page, starter_key = visitor_on(chromium, served, 0, "/train?lang=en")
    watcher, other, watcher_key = visitor_on(chromium, served, 1, "/train?lang=en")
    try:
        start_training(page, served.url, name, epochs)
        shows_live_run(page, name, epochs)
        assert (served.runs / name / "status.json").is_file()  # the one runs folder both servers read

        other.reload()  # the watcher's server learns of the run from the runs folder alone
        seen = shows_live_run(other, name, epochs)
        wait_epoch_above(other, epochs, seen)  # and follows it live: a later epoch, drawn by server 1
        assert other.locator('[data-testid="stException"]').count() == 0
    finally:
        starter.close()
        watcher.close()
        kill_trainings(served.runs)  # its work is shown: it need not take the machine from the next test
    started = requests_of(served, starter_key, streams=2)  # its websockets: /train, then the form's page
    watched = requests_of(served, watcher_key, streams=2)  # the first, and the one after the reload
    assert {server for server, *_ in started} == {0}, started  # Start was pressed on server 0's websocket
    assert {server for server, *_ in watched} == {1}, watched  # the live epochs came over server 1's websocket
    assert all(status == "101" for _, _, request, status in watched if request == STREAM)


def test_each_visitor_stays_on_its_own_server_across_reruns_and_reloads(chromium, served):
    visitors = [visitor_on(chromium, served, index, "/?lang=en&model=mnist5k-z2") for index in (0, 1)]
    reloads = 2
    try:
        for _, page, _ in visitors:
            for visit in range(reloads + 1):
                for _ in range(3):
                    move_slider(page)  # a rerun over the visitor's websocket (and the new image's request)
                if visit < reloads:
                    page.reload()  # a new websocket, a new page and its scripts, through the proxy again
                    settle(page)
    finally:
        for context, _, _ in visitors:
            context.close()
    for index, (_, _, key) in enumerate(visitors):
        requests = requests_of(served, key, streams=reloads + 1)
        assert {server for server, *_ in requests} == {index}, requests  # every request of it, one server
        assert sum(request == STREAM for _, _, request, _ in requests) == reloads + 1
        assert sum(request == "GET /" for _, _, request, _ in requests) >= reloads + 1  # page loads (with query)
        assert any(request.startswith("GET /static/") for _, _, request, _ in requests), requests  # its scripts

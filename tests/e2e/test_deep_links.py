"""A deep link (http://host:port/latent_map) opens its page; the browser's two 404s on the way are Streamlit's own.

Streamlit's frontend (1.67) does not know the server's base path: it takes the page's URL path as a candidate
first and asks ``<path>/_stcore/health`` and ``<path>/_stcore/host-config``, which the server answers 404, then
falls back to the parent path, where they answer 200 (``PD()`` in streamlit/static/static/js/index.*.js: the
candidates are the URL's path and its parent). It is Streamlit's open issue streamlit/streamlit#7074 ("404 health
check when navigating directly to a subpage"). No config option or page setting changes the frontend's guess:
``server.baseUrlPath`` moves the whole app, ``window.__streamlit.BACKEND_BASE_URL`` must be set by an embedding
page before Streamlit's script runs, and a server that answered 200 under ``/latent_map/_stcore/`` would make the
frontend take ``/latent_map`` as the app's base and look for everything else there. So the app leaves the probe
alone; this test records exactly what the browser reports, so that a change on either side shows.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PROBES = {"/latent_map/_stcore/health", "/latent_map/_stcore/host-config"}


def open_recording(page, url: str, heading: str) -> tuple[list[str], set[tuple[int, str]]]:
    """Open URL, wait for the page's heading; the console's errors and the failed responses on the way."""
    errors: list[str] = []
    failed: set[tuple[int, str]] = set()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("response", lambda r: r.status >= 400 and failed.add((r.status, r.url.split("?")[0])))
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for()
    page.get_by_test_id("stSidebarNav").wait_for()  # the app answered on its socket: the probes are behind it
    return errors, failed


def test_a_deep_link_opens_its_page_and_only_streamlits_base_path_probe_fails(page, server):
    errors, failed = open_recording(page, f"{server.url}/latent_map", "Latent map")
    paths = {url.removeprefix(server.url) for _, url in failed}
    assert {status for status, _ in failed} <= {404}
    assert paths <= PROBES, f"requests other than Streamlit's base-path probe failed: {paths - PROBES}"
    assert paths, "Streamlit no longer probes /<page>/_stcore/: the note in this test's docstring can go"
    assert len(errors) == len(failed) and all("404" in e for e in errors), errors  # one console line per 404
    assert page.url.startswith(f"{server.url}/latent_map")  # the page the link named, not the first one


def test_the_apps_root_opens_without_a_console_error(page, server):
    errors, failed = open_recording(page, server.url, "Latent sliders")
    assert not failed and not errors, (failed, errors)

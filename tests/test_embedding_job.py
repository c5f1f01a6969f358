"""t-SNE and UMAP above the server's limit: a background process of their own (training/jobs/embedding_job.py), its
progress, its result in the map cache, at most one per embedding, and what the Latent map says meanwhile
(explorer/state/map_embedding.py). Every wait is for an event (tests/waiting.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.waiting import exited, until
from training.analysis import embedding, map_cache
from training.jobs import embedding_job
from training.jobs.embedding_job import DONE, FAILED, NONE, RUNNING, WAITING


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(map_cache.ENV, str(tmp_path))
    return tmp_path / "maps"


def points(n: int = 300, z: int = 8, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, z)).astype(np.float32)


def ended(name: str) -> dict | None:
    """The progress file once it says done or failed (its last word), else None."""
    try:
        progress = json.loads(embedding_job.files(name)["progress"].read_text())
    except (OSError, ValueError):
        return None
    return progress if progress["state"] in (DONE, FAILED) else None


def stand_in(started: list):
    """A process that stands in for the embedding (its command line names the key, as the real one's does) and
    runs until it is killed: the tests decide when it ends."""
    def spawn(name, folder, method, shape, seed, perplexity):
        proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", name], stdin=subprocess.PIPE)
        started.append(proc)
        return proc
    return spawn


def test_the_job_writes_coordinates_that_the_map_cache_returns_and_its_progress_reaches_one(cache):
    mu = points()
    name = map_cache.key(mu, "tsne", 0, 30.0)
    assert embedding_job.start(mu, "tsne").state in (RUNNING, DONE)
    progress = until(lambda: ended(name), "the background t-SNE says it has ended")
    assert progress["state"] == DONE and progress["fraction"] == 1.0, embedding_job.files(name)["log"].read_text()
    assert progress["started_at"] <= progress["updated_at"]  # the page says how long it has run
    assert embedding_job.status(name).state == DONE
    assert not embedding_job.files(name)["mu"].exists()  # its input is removed when it ends

    def never():
        raise AssertionError("computed again, not read from the cache")
    coords, hit = map_cache.cached(mu, "tsne", 0, 30.0, never)
    assert hit and coords.shape == (300, 2) and np.isfinite(coords).all()
    assert embedding_job.start(mu, "tsne").state == DONE  # done: nothing started again
    embedding_job.files(name)["coords"].unlink()  # pruned from the cache since
    assert embedding_job.status(name).state == NONE  # to be started again, not failed


def test_a_second_start_while_one_runs_starts_no_second_process_and_a_killed_one_is_failed(cache, monkeypatch):
    started: list[subprocess.Popen] = []
    monkeypatch.setattr(embedding_job, "_spawn", stand_in(started))
    mu = points()
    name = map_cache.key(mu, "tsne", 0, 30.0)
    try:
        assert embedding_job.start(mu, "tsne").state == RUNNING
        assert embedding_job.start(mu, "tsne").state == RUNNING  # a second visitor, or a rerun
        assert len(started) == 1 and embedding_job.running(cache) == 1
        assert embedding_job.start(points(seed=2), "tsne").state == WAITING  # MAX_RUNNING (1) already runs
        assert len(started) == 1
    finally:
        for proc in started:
            proc.kill()
    assert exited(started[0]) == -signal.SIGKILL
    state = embedding_job.status(name)
    assert state.state == FAILED and "ended without a result" in state.error["reason"]
    assert embedding_job.start(mu, "tsne").state == FAILED and len(started) == 1  # not restarted by itself
    assert embedding_job.start(mu, "tsne", again=True).state == RUNNING and len(started) == 2  # unless asked
    started[1].kill()
    exited(started[1])


def test_a_bad_input_file_is_said_in_one_sentence_and_the_process_exits_non_zero(cache):
    cache.mkdir(parents=True)
    name = "0" * 32
    (cache / f"{name}-mu.npy").write_bytes(b"\x93NUMPY not an array at all")
    argv = [sys.executable, "-m", "training.jobs.embedding_job", "--key", name, "--folder", str(cache),
            "--method", "tsne", "--points", "300", "--dims", "8"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert exited(proc) != 0
    progress = json.loads((cache / f"{name}-job.json").read_text())
    assert progress["state"] == FAILED
    assert progress["reason_template"] == "The points to embed could not be read from {path}."
    assert not (cache / f"{name}.npy").exists()


@pytest.mark.parametrize("method", ["tsne", pytest.param("umap", marks=pytest.mark.slow)])
def test_approximate_neighbours_above_the_limit_and_progress_to_the_end(method, monkeypatch):
    monkeypatch.setattr(embedding, "MAX_POINTS", 100)  # 400 points: annoy (t-SNE) or pynndescent (UMAP)
    said: list[tuple[float, str]] = []
    coords = getattr(embedding, method)(points(400), progress=lambda f, stage: said.append((f, stage)))
    assert coords.shape == (400, 2) and np.isfinite(coords).all()
    assert said[0] == (0.0, "neighbours") and said[-1][1].startswith("optimising") and said[-1][0] == pytest.approx(1.0)
    assert all(a[0] <= b[0] for a, b in zip(said, said[1:]))  # never backwards


def map_page_with_tsne(monkeypatch):
    """The Latent map of the demo's 1,000 test images with t-SNE chosen, the server's limit lowered to 500."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from explorer import DEMOS
    from explorer.state import map_embedding
    from tests.test_app_explore import APP, HANG_S

    monkeypatch.setattr(map_embedding, "IN_SERVER_MAX", 500)  # the demo's 1,000 test images: in the background
    monkeypatch.setattr(map_cache, "shipped", lambda *args, **kwargs: None)  # as a model that ships none
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=HANG_S)
    at.session_state["run_path"] = str(DEMOS / "mnist5k-z16")
    at.run()
    at.switch_page("views/latent_map.py").run()
    at.radio(key="map_method").set_value("tsne").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_map_says_in_one_sentence_that_the_background_embedding_failed(cache, monkeypatch):
    started: list[subprocess.Popen] = []

    def crashes(name, folder, method, shape, seed, perplexity):
        started.append(subprocess.Popen([sys.executable, "-c", "pass", name]))  # gone at once, no result
        return started[-1]
    monkeypatch.setattr(embedding_job, "_spawn", crashes)
    at = map_page_with_tsne(monkeypatch)
    exited(started[0])
    at.run()
    said = [w.value for w in at.warning]
    assert said == ["t-SNE of all 1,000 points failed in its background process (Its process ended without a result "
                    "(it was stopped or ran out of memory)); the map shows PCA."], said
    assert len(started) == 1  # not started again by the rerun
    at.button(key="map_embedding_again").click().run()
    assert len(started) == 2  # unless asked
    exited(started[1])


def test_the_map_shows_pca_and_says_so_until_the_background_embedding_is_done(cache, monkeypatch):
    from tests.test_app_explore import array_length

    at = map_page_with_tsne(monkeypatch)
    said = [i.value for i in at.info]
    assert any("t-SNE of all 1,000 points is running in a background process" in s for s in said), said
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("PC1")  # PCA meanwhile

    (pid_file,) = until(lambda: list(cache.glob("*-job.pid")), "the background process is started")
    name = pid_file.name[:-len("-job.pid")]
    assert until(lambda: ended(name), "the background t-SNE says it has ended")["state"] == DONE
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [i.value for i in at.info if "background" in i.value]
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["layout"]["xaxis"]["title"]["text"] == "t-SNE 1"
    assert sum(array_length(t["x"]) for t in spec["data"] if t["type"] == "scattergl") == 1000  # every point
    assert not [c.value for c in at.caption if "random subset" in c.value]
    assert len(list(cache.glob("*-job.pid"))) == 1  # one process for all those reruns


def test_the_line_above_the_map_says_the_method_the_share_done_and_the_stage():
    from explorer.state import map_embedding

    state = embedding_job.JobState(RUNNING, 0.42, "optimising 120/300", seconds=185.7)
    assert map_embedding.sentence(state, "tsne", 200_000) == (
        "t-SNE of all 200,000 points is running in a background process (42%, optimising 120/300, 3 min 5 s so "
        "far); the map shows PCA until it is done.")
    assert "waits for another background embedding" in map_embedding.sentence(embedding_job.JobState(WAITING),
                                                                               "umap", 20_000)
    assert map_embedding.stage_words("early exaggeration 20/250") == "early exaggeration 20/250"
    assert map_embedding.stage_words("neighbours") == "neighbours"

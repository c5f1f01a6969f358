"""The container recipe (Dockerfile, .dockerignore): linted by deploy/dockerfile_check.py everywhere, by hadolint
and `docker build --check` where they are at hand, and its files alone start the app as an unprivileged user.

No test here builds the image: this machine has a docker client but no daemon. What is checked without one is what
the recipe promises: known instructions, a pinned base, every COPY source in the context and not ignored, pip
without a cache, a health check, a user that is not root, and that training/ and explorer/ (what it copies) are the
whole app, served with the CMD's own flags and answered by the HEALTHCHECK's own command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.harness import free_port, wait_healthy
from deploy.dockerfile_check import ignored, instructions, problems
from tests.waiting import HANG_S

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def test_the_dockerfile_passes_the_projects_checks():
    assert problems(DOCKERFILE) == []


@pytest.mark.parametrize("change, said", [
    (("FROM python:3.11-slim-bookworm", "FROM python:latest"), "pinned to a tag other than latest"),
    (("FROM python:3.11-slim-bookworm", "FROM python"), "pinned to a tag other than latest"),
    (("USER explorer", "USER root"), "USER that is not root"),
    (("USER explorer", ""), "USER that is not root"),
    (("--no-cache-dir ", ""), "without --no-cache-dir"),
    (("COPY training ./training", "COPY trainings ./training"), "source trainings is not in the build context"),
    (("COPY training ./training", "COPY tests ./tests"), "source tests is left out by .dockerignore"),
    (("EXPOSE 8501", "EXPOSE 8501\nRUNN true"), "unknown instruction RUNN"),
    (("HEALTHCHECK --interval", "LABEL x=1\n#HEALTHCHECK --interval"), "there is no HEALTHCHECK"),
    (('CMD ["python", "-m", "streamlit"', 'CMD python -m streamlit ["'), "shell form"),
])
def test_the_checker_finds_each_broken_promise(tmp_path, change, said):
    """Each check can fail: the project's Dockerfile with one promise broken, in a copy of its context."""
    old, new = change
    text = DOCKERFILE.read_text()
    assert old in text
    (tmp_path / "Dockerfile").write_text(text.replace(old, new, 1))
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    for name in ("requirements.txt", "training", "explorer", "tests"):
        (tmp_path / name).mkdir() if name != "requirements.txt" else (tmp_path / name).write_text("")
    found = problems(tmp_path / "Dockerfile")
    assert any(said in p for p in found), found


def test_continuations_and_comments_are_read_as_docker_reads_them():
    steps = instructions("# a comment\nARG X=1\nFROM base:1 \\\n  AS one\nRUN a \\\n# inside\n  && b\n")
    assert [(w, a) for _, w, a in steps] == [("ARG", "X=1"), ("FROM", "base:1  AS one"), ("RUN", "a  && b")]
    assert ignored("tests/x.py", ["tests"]) and not ignored("training", ["tests", "**/__pycache__"])
    assert not ignored("explorer", ["explorer", "!explorer"])


def test_hadolint_and_docker_agree_where_they_are_installed():
    ran = []
    if shutil.which("hadolint"):
        lint = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        ran.append("hadolint")
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        check = subprocess.run([docker, "build", "--check", str(ROOT)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        ran.append("docker build --check")
    if not ran:
        pytest.skip("neither hadolint nor a running docker daemon here; deploy/dockerfile_check.py checked it")


def _exec_form(word: str) -> list[str]:
    arguments = [a for _, w, a in instructions(DOCKERFILE.read_text()) if w == word][-1]
    return json.loads(arguments[arguments.index("["):])  # HEALTHCHECK's options come before its CMD


def _env() -> dict:
    text = [a for _, w, a in instructions(DOCKERFILE.read_text()) if w == "ENV"][0]
    return dict(pair.split("=", 1) for pair in text.split())


LANDING = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("explorer/app.py", default_timeout=float(sys.argv[1])).run()
assert not at.exception, [e.message for e in at.exception]
assert at.slider(key="z_0") is not None  # the landing page on a bundled demo model, as a visitor sees it first
print("landing page ok")
"""


def image_copy(where: Path) -> tuple[Path, dict]:
    """training/ and explorer/ copied as the Dockerfile does (less what .dockerignore leaves out) into WHERE/app,
    a stand-in for /data beside it, and the image's environment pointed there; (the app's folder, environment)."""
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    for folder in ("training", "explorer"):
        shutil.copytree(ROOT / folder, where / "app" / folder, ignore=lambda d, names: [
            n for n in names if ignored(str((Path(d) / n).relative_to(ROOT)), patterns)])
    data = where / "data"
    for sub in ("home", "runs", "cache", "datasets"):
        (data / sub).mkdir(parents=True)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VAE_EXPLORER")}, **_env()}
    env.update(PYTHONPATH=str(where / "app"), HOME=str(data / "home"), VAE_EXPLORER_RUNS=str(data / "runs"),
               VAE_EXPLORER_CACHE=str(data / "cache"), VAE_EXPLORER_DATA=str(data / "datasets"))
    return where / "app", env


@pytest.mark.slow
def test_what_the_image_copies_is_the_whole_app_served_and_healthy(tmp_path):
    """What the image copies is the whole app: its landing page runs on a bundled demo, its CMD (on a free port)
    serves it and the HEALTHCHECK's own command says healthy, and it writes nothing beside its code (the image's
    user owns /data only). It runs as this test's user: the image's user cannot be tried here, since this
    Python lives where other users cannot run it."""
    app, env = image_copy(tmp_path / "image")
    started = time.time()
    landing = subprocess.run([sys.executable, "-c", LANDING, str(HANG_S)], cwd=app, env=env, capture_output=True,
                             text=True)
    assert landing.returncode == 0 and "landing page ok" in landing.stdout, landing.stdout + landing.stderr
    port = free_port()
    cmd = [sys.executable if c == "python" else c for c in _exec_form("CMD")]
    cmd[cmd.index("--server.port") + 1] = str(port)
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        probe = [sys.executable if c == "python" else c for c in _exec_form("HEALTHCHECK")]
        probe[-1] = probe[-1].replace(":8501/", f":{port}/")
        assert subprocess.run(probe, env=env).returncode == 0
        probe[-1] = probe[-1].replace(f":{port}/", f":{free_port()}/")
        assert subprocess.run(probe, env=env, capture_output=True).returncode != 0  # and unhealthy when nobody answers
    finally:
        proc.terminate()
        proc.wait()
    written = [p for p in app.rglob("*") if p.stat().st_mtime >= started]
    assert written == [], written

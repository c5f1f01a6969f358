"""A t-SNE or UMAP of more points than the server computes itself (training/analysis/embedding.py MAX_POINTS),
run in a background process of its own: ``start`` (called by the app) launches it at most once per embedding,
``status`` says how far it has come, and ``main`` (``python -m training.jobs.embedding_job``) is the process.

Its files lie in the map cache's folder (training/analysis/map_cache.py), named by the embedding's key
(``map_cache.key``: the bytes of mu, the method, the seed, the perplexity):

    <key>.npy        the coordinates (N, 2), where ``map_cache.cached`` looks: the next visit reads them at once
    <key>-mu.npy     its input, mu (N, Z), written whole by the server; removed by the process when it ends
    <key>-job.json   its progress, written whole by the process: state, fraction, stage, and why it failed
    <key>-job.pid    its process id, written by the server that started it
    embedding-jobs.lock   held while a server decides to start one: one process per key, MAX_RUNNING at once

A process that is gone without its coordinates (killed, out of memory, the machine restarted) is failed, never
running for ever. It runs niced like a training (training/core/environment.py ``training_nice_from_env``).
"""

from __future__ import annotations

import argparse
import fcntl
import io
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.analysis import embedding, map_cache
from training.core.environment import training_nice_from_env
from training.core.errors import UserError, reason, reason_of
from training.core.files import atomic_write, open_appending, read_bounded

ROOT = Path(__file__).resolve().parents[2]  # the repository: the process starts from here, with it on PYTHONPATH
MAX_RUNNING = 1          # background embeddings at once on this machine (each uses the cores it is given)
METHODS = {"tsne": "t-SNE", "umap": "UMAP"}
WRITE_EVERY_S = 0.5      # progress written at most this often (and at every new stage)
SMALL_FILE = 64 * 1024   # a progress or pid file is at most this
NONE, WAITING, RUNNING, DONE, FAILED = "none", "waiting", "running", "done", "failed"


@dataclass(frozen=True)
class JobState:
    state: str                    # NONE (never started), WAITING (no free slot), RUNNING, DONE or FAILED
    fraction: float = 0.0         # of the work done, 0 to 1
    stage: str = "starting"       # "neighbours", "early exaggeration 120/250", "optimising 200/300", ...
    error: dict | None = None     # FAILED: the sentence's fields (training/core/errors.py ``reason``)
    seconds: float = 0.0          # since the process started (a long stage of no visible progress is still alive)


def files(name: str, folder: Path | None = None) -> dict[str, Path]:
    folder = map_cache.folder() if folder is None else folder
    return {"coords": folder / f"{name}.npy", "mu": folder / f"{name}-mu.npy", "progress": folder / f"{name}-job.json",
            "pid": folder / f"{name}-job.pid", "log": folder / f"{name}-job.log"}


def status(name: str) -> JobState:
    """Where the embedding NAME stands, from its files (no lock needed: each is written whole)."""
    paths = files(name)
    if paths["coords"].exists():
        return JobState(DONE, 1.0, "done")
    progress = _read_json(paths["progress"]) or {}
    if progress.get("state") == FAILED:
        return JobState(FAILED, float(progress.get("fraction", 0.0)), str(progress.get("stage", "")),
                        {k: progress.get(k) for k in ("reason", "reason_template", "reason_values")})
    pid = _read_pid(paths["pid"])
    if pid is None or progress.get("state") == DONE:  # never started, or its result since pruned from the cache
        return JobState(NONE)
    if _alive(pid, name):
        started = progress.get("started_at")
        seconds = max(0.0, time.time() - float(started)) if isinstance(started, (int, float)) else 0.0
        return JobState(RUNNING, float(progress.get("fraction", 0.0)), str(progress.get("stage", "starting")),
                        seconds=seconds)
    if paths["coords"].exists():  # it finished between the two looks
        return JobState(DONE, 1.0, "done")
    return JobState(FAILED, float(progress.get("fraction", 0.0)), str(progress.get("stage", "")),
                    reason("Its process ended without a result (it was stopped or ran out of memory)."))


def start(mu: np.ndarray, method: str, seed: int = 0, perplexity: float = 30.0, again: bool = False) -> JobState:
    """Start the background embedding of MU unless it is done, running or failed (AGAIN: start a failed one anew),
    or MAX_RUNNING others are running (then WAITING: ask again later). Its state now."""
    name = map_cache.key(mu, method, seed, perplexity)
    folder = map_cache.folder()
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder):
        now = status(name)
        if now.state in (DONE, RUNNING) or (now.state == FAILED and not again):
            return now
        if running(folder) >= MAX_RUNNING:
            return JobState(WAITING)
        paths = files(name, folder)
        for stale in ("progress", "pid"):
            paths[stale].unlink(missing_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(mu, dtype="<f4"), allow_pickle=False)
        atomic_write(paths["mu"], buffer.getvalue(), durable=False)
        proc = _spawn(name, folder, method, mu.shape, seed, perplexity)
        atomic_write(paths["pid"], str(proc.pid).encode(), durable=False)
    return status(name)


def running(folder: Path) -> int:
    """How many background embeddings are running now (their pid files name a live process of theirs)."""
    count = 0
    for pid_file in folder.glob("*-job.pid"):
        pid, name = _read_pid(pid_file), pid_file.name[:-len("-job.pid")]
        count += pid is not None and _alive(pid, name) and not files(name, folder)["coords"].exists()
    return count


def _spawn(name: str, folder: Path, method: str, shape: tuple[int, int], seed: int, perplexity: float):
    threads = str(embedding.threads() if MAX_RUNNING == 1 else max(1, embedding.threads() // MAX_RUNNING))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": threads, "NUMBA_NUM_THREADS": threads}
    argv = [sys.executable, "-m", "training.jobs.embedding_job", "--key", name, "--folder", str(folder),
            "--method", method, "--points", str(shape[0]), "--dims", str(shape[1]), "--seed", str(seed),
            "--perplexity", repr(float(perplexity)), "--nice", str(training_nice_from_env())]
    with open_appending(files(name, folder)["log"], "an embedding's log") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # outlives a server restart
    threading.Thread(target=proc.wait, name=f"vae-reap-{proc.pid}", daemon=True).start()  # no zombies
    return proc


@contextmanager
def _lock(folder: Path):
    fd = os.open(folder / "embedding-jobs.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and the lock with it


def _alive(pid: int, name: str) -> bool:
    """Whether PID is a live (not zombie) process of the embedding NAME (a reused pid is someone else)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not ours
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True  # no /proc to ask (macOS): the pid is alive
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X") and name.encode() in (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(read_bounded(path, SMALL_FILE, "an embedding's progress file"))
    except (OSError, UserError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _read_pid(path: Path) -> int | None:
    try:
        text = read_bounded(path, SMALL_FILE, "an embedding's pid file").decode("ascii").strip()
    except (OSError, UserError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


class _Progress:
    """Writes PATH whole (state, fraction, stage) at every new stage and at most every WRITE_EVERY_S."""

    def __init__(self, path: Path):
        self.path, self.last, self.stage, self.started = path, 0.0, None, time.time()

    def __call__(self, fraction: float, stage: str, state: str = RUNNING, **why) -> None:
        now, kind = time.monotonic(), stage.split(" ")[0]
        if state == RUNNING and kind == self.stage and now - self.last < WRITE_EVERY_S:
            return
        self.last, self.stage = now, kind
        record = {"state": state, "fraction": round(float(fraction), 4), "stage": stage, "pid": os.getpid(),
                  "updated_at": time.time(), "started_at": self.started, **why}
        atomic_write(self.path, json.dumps(record).encode(), durable=False)


def run(name: str, folder: Path, method: str, n: int, z: int, seed: int, perplexity: float) -> None:
    """The process's work: mu from ``<key>-mu.npy``, the embedding, the coordinates to ``<key>.npy``."""
    paths = files(name, folder)
    progress = _Progress(paths["progress"])
    progress(0.0, "starting")
    mu = map_cache.load(paths["mu"].name[:-len(".npy")], n, folder, touch=False, width=z)
    if mu is None:
        raise UserError("The points to embed could not be read from {path}.", path=paths["mu"])
    if method == "tsne":
        coords = embedding.tsne(mu, seed=seed, perplexity=perplexity, progress=progress)
    else:
        coords = embedding.umap(mu, seed=seed, progress=progress)
    progress(1.0, "saving")
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(coords, dtype="<f4"), allow_pickle=False)
    atomic_write(paths["coords"], buffer.getvalue(), durable=False)
    paths["mu"].unlink(missing_ok=True)
    progress(1.0, "done", state=DONE)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.jobs.embedding_job", description=__doc__.split("\n")[0])
    p.add_argument("--key", required=True)
    p.add_argument("--folder", required=True, type=Path)
    p.add_argument("--method", required=True, choices=sorted(METHODS))
    p.add_argument("--points", required=True, type=int)
    p.add_argument("--dims", required=True, type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--nice", type=int, default=0)
    a = p.parse_args(argv)
    if a.nice:
        os.nice(a.nice)
    paths = files(a.key, a.folder)
    try:
        run(a.key, a.folder, a.method, a.points, a.dims, a.seed, a.perplexity)
        return 0
    except (Exception, MemoryError) as err:  # noqa: BLE001 - said in the progress file, for the page
        why = reason_of(err) if isinstance(err, UserError) else reason(
            "{method} stopped with an error: {error}", method=METHODS[a.method],
            error="%s: %s" % (type(err).__name__, err))
        _Progress(paths["progress"])(0.0, "failed", state=FAILED, **why)
        print(why["reason"], file=sys.stderr)
        return 1
    finally:
        paths["mu"].unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())

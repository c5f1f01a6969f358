"""Shared fixtures: small data sets and configs so training tests take seconds."""

import os

import pytest

# One thread per torch in each test process: the suite runs several workers on few cores, and torch's OpenMP
# threads slow down badly when they outnumber the cores (trainings set their own count from their config).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Trainings the app starts run at the test workers' own priority: niced (the app's default, 10) below a
# worker that computes, a test's training would get almost no CPU while the other workers run. The tests of
# the priority itself set it explicitly (tests/test_trainings.py).
os.environ.setdefault("VAE_EXPLORER_TRAINING_NICE", "0")
# The app under AppTest has no server address, which explorer/state/serving.py reads as "served to others"
# (Streamlit's default listens everywhere). The tests drive it as it runs on one's own machine; the
# served mode has its own tests (tests/test_serving.py), which set this explicitly.
os.environ.setdefault("VAE_EXPLORER_SERVED", "0")
# Latent-map projections cached on disk (training/analysis/map_cache.py) go to a folder of this test session,
# shared by its workers and the app servers it starts, never to the user's ~/.cache.
if "VAE_EXPLORER_CACHE" not in os.environ:
    import tempfile

    os.environ["VAE_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="vae-explorer-test-cache-")

from tests.waiting import until
from training.core.config import RunConfig
from training.data import load_dataset


@pytest.fixture(scope="session")
def mnist5k():
    return load_dataset("mnist5k")


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def mnist16():
    """The bundled 16-dimensional model, its data set, its test images as it is scored on them, and their mu (E3),
    read by the library alone (the reference the directions' tests check the app against)."""
    from explorer import DEMOS
    from training.analysis import latent
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    run = load_run(DEMOS / "mnist5k-z16")
    c, h, _ = run.config.model.image_shape
    t = run.config.train
    data = load_dataset(t.dataset, image_size=h, channels=c, seed=t.seed, dataset_size=t.dataset_size)
    x = test_images(run.config, data)
    return run, data, x, latent.encode_dataset(run.model, x)


def small_config(**train) -> RunConfig:
    """An 8x8-digits MLP that trains an epoch in a fraction of a second."""
    settings = {"dataset": "digits", "epochs": 3, "batch_size": 64, "seed": 0, **train}
    return RunConfig(model={"image_shape": (1, 8, 8), "hidden": (64,), "latent_dim": 4}, train=settings)


def wait_for(predicate, what: str = "a condition of the test"):
    """Poll ``predicate`` until it is true (an event, never an amount of time: tests/waiting.py); its value."""
    return until(predicate, what)


def state_of(run_dir) -> str:
    """A run's state as every reader sees it (recorded status + whether a live process owns it)."""
    from training.runs.status import observed_state, read_status

    status = read_status(run_dir)
    return observed_state(run_dir, status) if status is not None else "none"


def wait_state(run_dir, *states: str):
    """Wait until the run is in one of STATES; its recorded status."""
    from training.runs.status import read_status

    wait_for(lambda: state_of(run_dir) in states, f"{run_dir.name} in state {' or '.join(states)}")
    return read_status(run_dir)


class BytesRead:
    """``with BytesRead() as io:`` ... ``io.count``: the bytes this process read from files and pipes meanwhile
    (Linux's /proc/self/io ``rchar``). A check that a large file was refused *without reading it* counts bytes,
    not seconds, so it holds on a machine of any speed."""

    @staticmethod
    def _rchar() -> int:
        for line in open("/proc/self/io"):
            if line.startswith("rchar:"):
                return int(line.split()[1])
        raise RuntimeError("/proc/self/io has no rchar")

    def __enter__(self) -> "BytesRead":
        self.count, self._start = 0, self._rchar()
        return self

    def __exit__(self, *exc) -> None:
        self.count = self._rchar() - self._start

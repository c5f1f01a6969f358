"""Shared fixtures: small data sets and configs so training tests take seconds."""

import os
import time

import pytest

# The app under AppTest has no server address, which explorer/serving.py reads as "served to others"
# (Streamlit's default listens everywhere). The tests drive it as it runs on one's own machine; the
# served mode has its own tests (tests/test_serving.py), which set this explicitly.
os.environ.setdefault("VAE_EXPLORER_SERVED", "0")
# Latent-map projections cached on disk (training/map_cache.py) go to a folder of this test session,
# shared by its workers and the app servers it starts, never to the user's ~/.cache.
if "VAE_EXPLORER_CACHE" not in os.environ:
    import tempfile

    os.environ["VAE_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="vae-explorer-test-cache-")

from training.config import RunConfig
from training.data import load_dataset


@pytest.fixture(scope="session")
def mnist5k():
    return load_dataset("mnist5k")


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


def small_config(**train) -> RunConfig:
    """An 8x8-digits MLP that trains an epoch in a fraction of a second."""
    settings = {"dataset": "digits", "epochs": 3, "batch_size": 64, "seed": 0, **train}
    return RunConfig(model={"image_shape": (1, 8, 8), "hidden": (64,), "latent_dim": 4}, train=settings)


def wait_for(predicate, timeout: float = 20.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def state_of(run_dir) -> str:
    """A run's state as every reader sees it (recorded status + whether a live process owns it)."""
    from training.run_status import observed_state, read_status

    status = read_status(run_dir)
    return observed_state(run_dir, status) if status is not None else "none"


def wait_state(run_dir, *states: str, timeout: float = 60.0):
    """Wait until the run is in one of STATES; its recorded status."""
    from training.run_status import read_status

    assert wait_for(lambda: state_of(run_dir) in states, timeout), f"{run_dir.name} is {state_of(run_dir)}"
    return read_status(run_dir)

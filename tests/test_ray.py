"""Trainings on Ray (training/jobs/ray_launcher.py), against a real Ray instance on 127.0.0.1.

The instance is started the way docs/deploy.md tells an operator to start a head node (``ray start
--head``), limited to 2 CPUs and a 100 MB object store, and the trainings are submitted through the
app's own code (``submit`` with a ``RayLauncher``), one of them from a driver process that exits at
once, as a Streamlit server that stops would. Everything is read back from the run folders.

Without Ray (``pip install -r requirements-ray.txt``) these tests skip; with VAE_EXPLORER_REQUIRE_RAY=1
(set by .ci/run) they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.conftest import wait_state as _wait_state
from tests.waiting import HANG_S
from training.core.config import RunConfig
from training.core.environment import RAY_ADDRESS_ENV
from training.core.errors import UserError
from training.jobs.control import stop_run, submit
from training.jobs.launcher import ROOT
from training.models.open import load_run
from training.runs.layout import LOG
from training.runs.status import (CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, STOPPED, RunStatus, observed_state,
                                  read_status)

pytestmark = pytest.mark.ray  # make test-fast leaves Ray out

MODEL = {"image_shape": (1, 8, 8), "hidden": (32,), "latent_dim": 2}
CLUSTER_CPUS = 2
# what a client of the instance needs: its token (kept out of ~/.ray) and loopback-only addresses
RAY_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def tiny(**train) -> RunConfig:
    return RunConfig(model=MODEL, train={"dataset": "digits", "epochs": 2, "batch_size": 64, **train})


def endless() -> RunConfig:
    return tiny(epochs=100_000, batch_size=16)


def wait_state(run_dir: Path, *states: str) -> RunStatus:
    return _wait_state(run_dir, *states)


def require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        reason = "Ray is not installed (pip install -r requirements-ray.txt)"
        if os.environ.get("VAE_EXPLORER_REQUIRE_RAY") == "1":
            pytest.fail(f"Ray tests are required here but {reason}")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Head:
    """``ray start --head --block`` on 127.0.0.1, in a session of its own so that it ends with the tests."""

    def __init__(self):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp = Path(tempfile.mkdtemp(prefix="vae-ray-"))  # short: Ray's socket paths must fit in 107 bytes
        self.log = open(self.temp / "head.log", "wb")
        ray_cli = Path(sys.executable).parent / "ray"
        self.proc = subprocess.Popen(
            [str(ray_cli), "start", "--head", "--block", f"--port={self.port}", "--node-ip-address=127.0.0.1",
             f"--num-cpus={CLUSTER_CPUS}", "--num-gpus=0", "--object-store-memory=100000000",
             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={self.temp}"],
            env={**os.environ, **RAY_ENV}, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(self._listening, "ray start --head listens")
        except BaseException:
            self.stop()
            raise

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"ray start --head exited: {self.output()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()  # one poll of until()
            return True
        except OSError:
            return False

    def output(self) -> str:
        return (self.temp / "head.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # `ray start --block` then stops every process it started
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self._session_pids():  # whatever is left of this session (workers), by id
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.temp, ignore_errors=True)

    def _session_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getsid(int(entry.name)) == self.proc.pid:
                        pids.append(int(entry.name))
                except OSError:
                    pass
        return pids


@pytest.fixture(scope="module")
def cluster():
    with pytest.MonkeyPatch.context() as mp:
        for key, value in RAY_ENV.items():  # before ray is imported: it reads some of them once
            mp.setenv(key, value)
        require_ray()
        import ray

        previous_sigterm = signal.getsignal(signal.SIGTERM)  # ray.init takes SIGTERM over
        head = Head()
        try:
            from training.jobs.ray_connect import connect

            connect(head.address)  # this process is a driver too, to read the cluster's free resources
            yield head
        finally:
            ray.shutdown()
            signal.signal(signal.SIGTERM, previous_sigterm)
            head.stop()


@pytest.fixture(scope="module")
def launcher(cluster):
    from training.jobs.ray_launcher import RayLauncher

    return RayLauncher(cluster.address, cpus=1)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "runs"


def actor_state(run_dir: Path) -> str | None:
    """The state Ray's control store records for the actor of RUN_DIR's queued request (None: none yet)."""
    from ray._private.state import state

    from training.jobs.ray_launcher import NAMESPACE, actor_name

    name = actor_name(run_dir.resolve(), read_status(run_dir).queued_at)
    found = [a for a in state.actor_table(None).values() if a.get("Name") == name
             and a.get("RayNamespace", NAMESPACE) == NAMESPACE]
    return found[-1].get("State") if found else None


def cpus_free() -> float:
    import ray

    return ray.available_resources().get("CPU", 0.0)


# -- against the instance -------------------------------------------------------------------------------
def test_a_training_submitted_by_a_server_that_exits_at_once_finishes(cluster, root):
    """The app's code path (launcher_from_env, submit) in a driver that exits right after submitting:
    the training is a detached actor, so it runs to the end and frees its CPU."""
    driver = textwrap.dedent(f"""
        import sys
        from training.core.config import RunConfig
        from training.jobs.control import launcher_from_env, submit
        config = RunConfig(model={MODEL!r}, train={{"dataset": "digits", "epochs": 2, "batch_size": 64}})
        print(submit({str(root)!r}, "tiny", config, launcher_from_env(), requested_by="t"))
    """)
    env = {**os.environ, RAY_ADDRESS_ENV: cluster.address, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", driver], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=HANG_S)  # a hang guard
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert run_dir == root / "tiny"
    submitted_in = time.monotonic() - started
    status = wait_state(run_dir, FINISHED, FAILED, STOPPED)
    assert status.state == FINISHED, status.reason
    assert status.launcher == "ray" and status.requested_by == "t" and status.epoch == 2
    assert load_run(run_dir).epoch == 2
    assert status.ended_at > status.started_at > status.queued_at
    print(f"driver exited {submitted_in:.1f} s after its start; the training ran on without it")
    wait_for(lambda: cpus_free() == CLUSTER_CPUS, "the finished training frees its CPU")


def test_a_running_training_stops_on_request_and_a_queued_one_waits_for_the_cluster(cluster, launcher, root):
    from training.jobs.ray_launcher import RayLauncher

    long = submit(root, "long", endless(), launcher, requested_by="t")
    wait_for(lambda: (read_status(long).state == RUNNING and read_status(long).epoch >= 1), "long in epoch 1")
    assert observed_state(long, read_status(long)) == RUNNING

    # a training asking for both CPUs cannot start while one is taken: Ray holds it back
    whole = RayLauncher(cluster.address, cpus=CLUSTER_CPUS)
    big = submit(root, "big", tiny(), whole, requested_by="t")
    cancelled = submit(root, "cancelled", tiny(), whole, requested_by="t")
    # Ray itself says it cannot place the actor (its creation waits for resources), an event, not a pause
    wait_for(lambda: actor_state(big) == "PENDING_CREATION", "Ray holds big back")
    status = read_status(big)
    assert status.state == QUEUED and status.owner is None
    # unclaimed for an hour is still queued (a local run would count as interrupted after 15 s)
    assert observed_state(big, status, now=status.queued_at + 3600) == QUEUED
    assert stop_run(cancelled) == STOPPED  # never claimed: cancelled on the spot
    assert read_status(cancelled).reason == CANCELLED

    stop_run(long)
    stopped = wait_state(long, STOPPED, FAILED, FINISHED)
    assert stopped.state == STOPPED
    assert stopped.reason == f"Stopped; the checkpoint of epoch {stopped.epoch} is kept."
    assert stopped.epoch >= 1 and load_run(long).epoch == stopped.epoch
    assert not (long / "stop").exists()  # the training consumed the request

    # with the CPU free again, Ray starts the waiting ones: big trains, the cancelled one ends at once
    status = wait_state(big, FINISHED, FAILED, STOPPED)
    assert status.state == FINISHED, status.reason
    assert load_run(big).epoch == 2
    wait_for(lambda: cpus_free() == CLUSTER_CPUS, "the ended trainings free their CPUs")
    assert read_status(cancelled).state == STOPPED and read_status(cancelled).reason == CANCELLED
    assert not (cancelled / "model.safetensors").exists()


def test_a_training_that_fails_in_its_worker_records_one_sentence(cluster, launcher, root, tmp_path):
    missing = tmp_path / "no-such-folder"
    run_dir = submit(root, "broken", tiny(dataset=f"folder:{missing}"), launcher, requested_by="t")
    status = wait_state(run_dir, FAILED, FINISHED, STOPPED)
    assert status.state == FAILED
    assert status.reason == f"Image folder {missing} does not exist."
    # what the worker printed, in the folder (printed just after the status is recorded: wait for it)
    wait_for(lambda: f"error: {status.reason}" in (run_dir / LOG).read_text(), "the sentence in train.log")
    assert (run_dir / "config.json").is_file()  # the app's folder stays, to show why
    wait_for(lambda: cpus_free() == CLUSTER_CPUS, "the failed training frees its CPU")


def test_an_unreachable_cluster_is_one_sentence_in_seconds(cluster):
    import ray

    from training.jobs.ray_launcher import RayLauncher

    ray.shutdown()  # connect() keeps one connection per process; this one must try afresh
    try:
        # The sentence comes from the launcher's own look at the port, before ray.init (which would retry for
        # minutes): "Connection refused; is it running" is that look's answer, whatever the machine's speed.
        with pytest.raises(UserError, match=r"^Cannot reach the Ray cluster at 127\.0\.0\.1:\d+.*: Connection refused; is it running"):
            RayLauncher(f"127.0.0.1:{free_port()}")
    finally:
        RayLauncher(cluster.address)  # the connection the module's other tests use


def test_local_starts_a_ray_instance_of_the_app_on_loopback_only(cluster, root):
    """VAE_EXPLORER_RAY_ADDRESS=local: the app's process starts its own Ray, bound to 127.0.0.1, from a
    thread that ends at once (as Streamlit's script runs do), and the instance outlives that thread."""
    driver = textwrap.dedent(f"""
        import threading
        import ray
        from training.core.config import RunConfig
        from training.jobs.control import launcher_from_env, submit
        from training.runs.status import read_status
        from tests.conftest import wait_for
        made = []
        script_run = threading.Thread(target=lambda: made.append(launcher_from_env()))
        script_run.start()
        script_run.join()
        launcher = made[0]  # the thread has ended: had Ray's processes died with it, the training below could not run
        context = ray.get_runtime_context()
        print("gcs", context.gcs_address)
        print("nodes", sorted({{n["NodeManagerAddress"] for n in ray.nodes()}}))
        config = RunConfig(model={MODEL!r}, train={{"dataset": "digits", "epochs": 1, "batch_size": 64}})
        run_dir = submit({str(root)!r}, "here", config, launcher)
        wait_for(lambda: read_status(run_dir).state not in ("queued", "running"), "the training ends")
        print("state", read_status(run_dir).state)
    """)
    temp = tempfile.mkdtemp(prefix="vae-ray-")  # Ray's logs and sockets, not /tmp/ray
    env = {**os.environ, RAY_ADDRESS_ENV: "local", "PYTHONPATH": str(ROOT), "RAY_TMPDIR": temp}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")  # the launcher itself must keep Ray on loopback
    try:
        try:  # the driver's own wait ends first (HANG_S) and says what it awaited; this is its hang guard
            done = subprocess.run([sys.executable, "-c", driver], env=env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=2 * HANG_S)
        except subprocess.TimeoutExpired as err:
            raise AssertionError(f"the driver hung; {ray_diagnosis(root / 'here', Path(temp))}") from err
        assert done.returncode == 0, f"{done.stderr[-3000:]}\n{ray_diagnosis(root / 'here', Path(temp))}"
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["gcs"].startswith("127.0.0.1:")
    assert lines["nodes"] == "['127.0.0.1']"
    assert lines["state"] == FINISHED


def ray_diagnosis(run_dir: Path, temp: Path) -> str:
    """What a failed Ray test leaves to read: the run's status and log, and the lines of Ray's own logs that
    name an error or a time-out (a worker that never started, a runtime environment that failed)."""
    parts = []
    for name in ("status.json", LOG):
        path = run_dir / name
        parts.append(f"{name}: {path.read_text(errors='replace')[-2000:] if path.is_file() else '(none)'}")
    for log in sorted(temp.glob("**/logs/*")):
        if log.is_file() and log.suffix in (".out", ".err", ".log"):
            hits = [line for line in log.read_text(errors="replace").splitlines()
                    if any(word in line.lower() for word in ("error", "timeout", "timed out", "fail", "dead"))]
            if hits:
                parts.append(f"{log.name}: " + "\n".join(hits[-15:]))
    return "\n".join(parts)[-8000:]


# -- without an instance ------------------------------------------------------------------------------
@pytest.mark.parametrize("env, value, message", [
    ("VAE_EXPLORER_RAY_CPUS", "-1", "VAE_EXPLORER_RAY_CPUS must be a number above 0 and at most 1024, not -1."),
    ("VAE_EXPLORER_RAY_CPUS", "0", "VAE_EXPLORER_RAY_CPUS must be a number above 0 and at most 1024, not 0."),
    ("VAE_EXPLORER_RAY_CPUS", "two", "VAE_EXPLORER_RAY_CPUS must be a number, not 'two'."),
    ("VAE_EXPLORER_RAY_GPUS", "-0.5", "VAE_EXPLORER_RAY_GPUS must be a number 0 or more and at most 1024, not -0.5."),
    ("VAE_EXPLORER_RAY_GPUS", "1.5", "A training's GPU request (VAE_EXPLORER_RAY_GPUS) must be a fraction below 1 "
                                     "or a whole number, not 1.5."),
    ("VAE_EXPLORER_RAY_GPUS", "nan", "VAE_EXPLORER_RAY_GPUS must be a number 0 or more and at most 1024, not nan."),
])
def test_bad_resource_settings_are_one_sentence(monkeypatch, env, value, message):
    from training.jobs.ray_launcher import RayLauncher

    monkeypatch.setenv(env, value)
    with pytest.raises(UserError) as err:
        RayLauncher("127.0.0.1:1")  # refused before any connection is tried
    assert str(err.value) == message


def test_bad_addresses_are_one_sentence():
    from training.jobs.ray_launcher import RayLauncher

    with pytest.raises(UserError, match=r"^VAE_EXPLORER_RAY_ADDRESS must be 'local', 'auto', HOST:PORT or "):
        RayLauncher("head-node")


def test_without_ray_installed_the_setting_says_what_to_install(monkeypatch):
    from training.jobs.control import launcher_from_env

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setenv(RAY_ADDRESS_ENV, "local")
    with pytest.raises(UserError) as err:
        launcher_from_env()
    assert str(err.value) == ("VAE_EXPLORER_RAY_ADDRESS is set but Ray is not installed: "
                              "pip install -r requirements-ray.txt")


def test_the_resource_request_sets_the_torch_threads(monkeypatch):
    from training.jobs.launcher import fit_argv
    from training.jobs.ray_launcher import RayLauncher

    monkeypatch.setattr("training.jobs.ray_launcher.connect", lambda address: None)
    monkeypatch.setenv("VAE_EXPLORER_RAY_CPUS", "3")
    monkeypatch.setenv("VAE_EXPLORER_RAY_GPUS", "0.5")
    ray_launcher = RayLauncher("auto")
    assert (ray_launcher.cpus, ray_launcher.gpus, ray_launcher.threads) == (3.0, 0.5, 3)
    assert RayLauncher("auto", cpus=0.25).threads == 1 and RayLauncher("auto", cpus=2.6).threads == 3
    assert ray_launcher.kind == "ray" and ray_launcher.max_running is None
    assert "--max-running" not in fit_argv(Path("/r/x"), 1.0, ray_launcher.threads)

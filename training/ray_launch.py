"""Trainings on a Ray cluster: the app's launcher when $VAE_EXPLORER_RAY_ADDRESS is set.

Each training is a *detached* Ray actor (namespace ``vae-explorer``) that asks the cluster for
$VAE_EXPLORER_RAY_CPUS CPUs (default 1) and $VAE_EXPLORER_RAY_GPUS GPUs (default 0), runs
``python -m training fit --resume --out RUN_DIR ...`` in its worker (``training.cli.main``, the same
code path as the command line and the local launcher), writes what it prints to RUN_DIR/train.log,
and then ends itself, so that its CPUs and GPUs are free at once. Ray, not this project, queues the
trainings: an actor waits until some node has the resources it asks for.

Detached actors belong to the cluster, not to the process that made them, so a training keeps going
when the Streamlit server that submitted it stops or restarts; everything about it (state, progress,
stop requests) goes through its run folder, which must therefore be on storage that every node
mounts at the same path. Every node also needs this project at the same path as the app's (each
worker gets PYTHONPATH=<the app's repository root>) or installed, with the same Python packages.

Addresses:
    local            a Ray instance of this process, on 127.0.0.1 only (to try Ray on one machine;
                     its trainings end with the process)
    auto             the Ray node started on this machine with ``ray start``
    HOST:PORT        a cluster's GCS address (this machine must be one of its nodes)
    ray://HOST:PORT  Ray Client (needs ``pip install 'ray[client]'``; not tested here)

See docs/deploy.md. Ray is optional (requirements-ray.txt); nothing else imports this module.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import sys
import threading
import time
from pathlib import Path

from training.errors import UserError
from training.launch import RAY_ADDRESS_ENV, ROOT, fit_argv

CPUS_ENV = "VAE_EXPLORER_RAY_CPUS"
GPUS_ENV = "VAE_EXPLORER_RAY_GPUS"
NAMESPACE = "vae-explorer"
LOCAL = "local"
LOCAL_OBJECT_STORE_BYTES = 128 * 1024**2  # trainings pass nothing through Ray's object store
FORWARDED_ENV = ("VAE_EXPLORER_DATA",)     # where data sets are cached, if the app was told
CONNECT_TIMEOUT_S = 5.0
NOT_INSTALLED = f"{RAY_ADDRESS_ENV} is set but Ray is not installed: pip install -r requirements-ray.txt"


class RayLauncher:
    """Start each training as a detached Ray actor with its CPU/GPU request (see the module's doc)."""

    kind = "ray"
    max_running = None  # the cluster decides

    def __init__(self, address: str, cpus: float | None = None, gpus: float | None = None, device: str = "auto"):
        self.address = (address or "").strip()
        if not self.address:
            raise UserError("{ray_address_env} is empty; set it to 'local', 'auto' or a Ray cluster's address.",
                ray_address_env=RAY_ADDRESS_ENV)
        self.cpus = _amount(cpus, CPUS_ENV, default=1.0, least=0.0, strictly=True)
        self.gpus = _amount(gpus, GPUS_ENV, default=0.0, least=0.0, strictly=False)
        if self.gpus > 1 and self.gpus != int(self.gpus):
            raise UserError("A training's GPU request ({gpus_env}) must be a fraction below 1 or a whole number, not "
                "{gpus:g}.",
                gpus_env=GPUS_ENV, gpus=self.gpus)
        self.threads = max(1, round(self.cpus))  # torch threads: the CPUs this training asked for
        self.device = device
        _check_address(self.address)
        self._ray = connect(self.address)

    def launch(self, run_dir: Path, queued_at: float) -> None:
        run_dir = Path(run_dir).resolve()  # the same path on every node: the runs folder is shared
        argv = fit_argv(run_dir, queued_at, self.threads, self.device)
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": str(self.threads)}
        env.update({k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)})
        actor = self._ray.remote(_Training).options(
            name=actor_name(run_dir, queued_at), namespace=NAMESPACE, lifetime="detached",
            num_cpus=self.cpus, num_gpus=self.gpus, max_restarts=0, runtime_env={"env_vars": env})
        handle = actor.remote(argv, str(run_dir))
        _wait_until_the_cluster_has_it(handle)


def _wait_until_the_cluster_has_it(handle, patience: float = 10.0) -> None:
    """Return once the cluster's control store (GCS) holds the actor's creation task: from then on the
    cluster, not this process, starts the training, so it starts even if the app exits the next
    instant. (A detached actor is registered before ``.remote()`` returns; its creation task follows
    a moment later. Usually this is one quick look.)"""
    try:
        from ray._private.state import state
    except ImportError:  # another Ray version: nothing to look at
        return
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            info = state.actor_table(handle._actor_id.hex())
        except Exception:  # noqa: BLE001 - a look that failed proves nothing either way
            return
        if info and info.get("State") != "DEPENDENCIES_UNREADY":
            return
        time.sleep(0.05)


def actor_name(run_dir: Path, queued_at: float) -> str:
    """'vae-train/NAME/HASH' (``ray list actors``); unique per run folder and queued request."""
    digest = hashlib.sha256(f"{run_dir}\n{queued_at!r}".encode()).hexdigest()[:12]
    return f"vae-train/{run_dir.name}/{digest}"


def _amount(value: float | None, env: str, default: float, least: float, strictly: bool) -> float:
    """A CPU or GPU request: ``value``, else $ENV, else ``default``; one sentence if it is not a sane number."""
    what = env
    if value is None:
        text = os.environ.get(env, "").strip()
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise UserError("{env} must be a number, not {text!r}.",
                env=env, text=text) from None
    else:
        what = "The " + env.removeprefix("VAE_EXPLORER_RAY_").rstrip("S") + " request"
    if not math.isfinite(value) or value < least or (strictly and value <= least) or value > 1024:
        bound = "above 0" if strictly else "0 or more"
        raise UserError("{what} must be a number {bound} and at most 1024, not {value:g}.",
            what=what, bound=bound, value=value)
    return float(value)


# -- connecting ---------------------------------------------------------------------------------
_connect_lock = threading.Lock()


def connect(address: str):
    """The ``ray`` module, connected to ``address`` (once per process); one UserError sentence otherwise."""
    try:
        import ray
    except ImportError:
        raise UserError(NOT_INSTALLED) from None
    with _connect_lock:
        if ray.is_initialized():  # one Ray connection per process: reuse it
            return ray
        if address == LOCAL:
            _loopback_only()
            _start_local(ray)
            return ray
        if address.startswith("ray://"):
            why = _reachable(address)
            if why is not None:
                raise UserError("Cannot reach the Ray Client server at {address}: {why}; is the cluster running and is "
                    "{ray_address_env} right?",
                    address=address, why=why, ray_address_env=RAY_ADDRESS_ENV)
            try:
                import grpc  # noqa: F401 - what Ray Client needs beyond plain ray
            except ImportError:
                raise UserError("{ray_address_env} is a ray:// address, which needs Ray Client: pip install "
                    "'ray[client]' (the same version as the cluster's).",
                    ray_address_env=RAY_ADDRESS_ENV) from None
        else:
            _pick_route(address)
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError("Cannot connect to the Ray cluster at {address} ({value}).",
                address=address, value=first.rstrip('.')) from None
    return ray


def _start_local(ray) -> None:
    """A new Ray instance in this process, listening on 127.0.0.1 only.

    Ray starts its processes so that they die with the *thread* that started them (Linux's parent-
    death signal), and Streamlit runs each script run on a thread of its own that soon ends: so the
    instance is started from a thread that lives as long as this process."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports to Ray's makers from the app
    result: dict[str, BaseException | None] = {}
    started = threading.Event()

    def start_and_stay() -> None:
        try:
            ray.init(address=LOCAL, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES)
            result["error"] = None
        except BaseException as err:  # noqa: BLE001 - reported by the caller
            result["error"] = err
        started.set()
        if result["error"] is None:
            threading.Event().wait()  # forever: Ray's processes live while this thread does

    threading.Thread(target=start_and_stay, name="vae-ray-local", daemon=True).start()
    started.wait()
    err = result["error"]
    if err is not None:
        raise UserError("Could not start a local Ray instance ({name}: {err}).",
            name=type(err).__name__, err=err)


def _loopback_only() -> None:
    """Make this process's Ray use 127.0.0.1 as this node's address. On Linux, Ray replaces 127.0.0.1
    by the machine's routable address (in what it binds and in the addresses it is given) unless it is
    told that this is not a cluster."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # read when ray is imported, which may have happened
    except (ImportError, AttributeError):
        pass


def _pick_route(address: str) -> None:
    """Check, in seconds, that a GCS listens where Ray will look for it (ray.init would retry for many
    minutes). Ray rewrites 127.0.0.1:PORT to this machine's routable address; a head node started on
    127.0.0.1 alone (``ray start --head --node-ip-address 127.0.0.1``) is then reached on loopback."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        resolved = canonicalize_bootstrap_address(address) or address
    except (ConnectionError, ValueError) as err:  # 'auto' with no local node, or a malformed address
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError("Cannot connect to the Ray cluster at {address} ({value}).",
            address=address, value=first.rstrip('.')) from None
    except ImportError:  # another Ray version: check the address as given
        resolved = address
    why = _reachable(resolved)
    if why is None:
        return
    if resolved != address and _is_loopback(address) and _reachable(address) is None:
        _loopback_only()
        return
    shown = address if resolved == address else f"{address} (that is, {resolved})"
    raise UserError("Cannot reach the Ray cluster at {shown}: {why}; is it running (ray start --head) and is "
        "{ray_address_env} right?",
        shown=shown, why=why, ray_address_env=RAY_ADDRESS_ENV)


def _is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def _reachable(hostport: str) -> str | None:
    """None if something accepts TCP connections at HOST:PORT, else why not."""
    host, _, port = hostport.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
        return None
    except OSError as err:
        return err.strerror or type(err).__name__
    except ValueError:
        return "not HOST:PORT"


def _check_address(address: str) -> None:
    if address in (LOCAL, "auto"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError("{ray_address_env} must be 'local', 'auto', HOST:PORT or ray://HOST:PORT, not "
            "{address!r}.",
            ray_address_env=RAY_ADDRESS_ENV, address=address)


# -- the worker side ------------------------------------------------------------------------------
class _Training:
    """One training in a Ray worker: a detached actor whose constructor starts the training on a thread
    (so the actor is alive, not pending, while it trains) and which ends itself when it is done."""

    def __init__(self, argv: list[str], run_dir: str):
        threading.Thread(target=self._train, args=(argv, Path(run_dir)), name="vae-training", daemon=True).start()

    def _train(self, argv: list[str], run_dir: Path) -> None:
        try:
            _fit_in_worker(argv, run_dir)
        finally:
            _end_this_actor()


def _fit_in_worker(argv: list[str], run_dir: Path) -> int | None:
    from training.run_folder import LOG

    try:
        log = open(run_dir / LOG, "ab", buffering=0)
    except OSError as err:  # the runs folder is not shared with this node: only Ray's worker log can say so
        print(f"vae-explorer: cannot open {run_dir / LOG} on {socket.gethostname()} ({err.strerror}); "
              "is the runs folder mounted at the same path on every Ray node?", file=sys.stderr, flush=True)
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)  # this worker process belongs to this one actor
    os.dup2(log.fileno(), 2)
    os.chdir(ROOT)
    from training.cli import main

    try:
        return main(argv)  # records every end (finished, stopped, failed) in the run folder itself
    except BaseException:  # a bug: job.run recorded it as failed; the traceback goes to train.log
        import traceback

        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _end_this_actor() -> None:
    """Let Ray end this actor the ordinary way, which frees its CPUs and GPUs at once."""
    try:
        import ray

        ray.get_runtime_context().current_actor.__ray_terminate__.remote()
    except Exception:  # noqa: BLE001 - never leave a finished training holding its resources
        os._exit(0)

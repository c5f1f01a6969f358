"""Connecting this process to Ray, once, quickly: the checks that turn an unreachable or mistyped address into
one sentence in seconds (``ray.init`` alone would retry for minutes), and a local instance on loopback only.
Ray is optional (requirements-ray.txt): it is imported when a connection is asked for.

Addresses:
    local            a Ray instance of this process, on 127.0.0.1 only (to try Ray on one machine;
                     its trainings end with the process)
    auto             the Ray node started on this machine with ``ray start``
    HOST:PORT        a cluster's GCS address (this machine must be one of its nodes)
    ray://HOST:PORT  Ray Client (needs ``pip install 'ray[client]'``; not tested here)
"""

from __future__ import annotations

import os
import socket
import threading

from training.core.environment import RAY_ADDRESS_ENV
from training.core.errors import UserError
from training.core.numbers import whole_number

LOCAL = "local"
LOCAL_OBJECT_STORE_BYTES = 128 * 1024**2  # trainings pass nothing through Ray's object store
CONNECT_TIMEOUT_S = 5.0
NOT_INSTALLED = f"{RAY_ADDRESS_ENV} is set but Ray is not installed: pip install -r requirements-ray.txt"
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


def check_address(address: str) -> None:
    """One sentence unless ADDRESS is 'local', 'auto', HOST:PORT or ray://HOST:PORT (nothing is contacted)."""
    if address in (LOCAL, "auto"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not 0 < (whole_number(port) or 0) < 65536:
        raise UserError("{ray_address_env} must be 'local', 'auto', HOST:PORT or ray://HOST:PORT, not "
            "{address!r}.",
            ray_address_env=RAY_ADDRESS_ENV, address=address)

"""Foreign graphs run in a worker process with limits, never in the caller's (the app server's) process.

A :class:`GraphWorker` holds one long-lived child (training/models/onnx_worker.py) for one ONNX pair and is
reused for every call, so a slider move costs one round trip over a pipe, not a process start. The child's
memory (address space) and CPU time per call are limited by the kernel, and each call's wall time by this
side, from the operator's settings (VAE_EXPLORER_FOREIGN_MB, VAE_EXPLORER_FOREIGN_SECONDS,
training/core/environment.py). A graph that goes past a limit costs the child, not the server: the call is one
sentence, and the next call starts a fresh child. The child dies with its worker object, when the server exits
(its stdin closes), or when it is killed. Calls from several threads (several visitors of one cached model)
take turns. No torch here.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np

from training.core.environment import FOREIGN_MB_ENV, FOREIGN_SECONDS_ENV, foreign_limits
from training.core.errors import UserError
from training.models import onnx_worker

WORKER = Path(onnx_worker.__file__)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - a kill is not refused
        pass
    for stream in (process.stdin, process.stdout):
        try:
            stream.close()
        except OSError:
            pass


class GraphWorker:
    """``run("encoder" | "decoder", array)`` -> the graph's outputs, computed in the limited child."""

    def __init__(self, encoder_bytes: bytes, decoder_bytes: bytes, threads: int = 1, feeds: dict | None = None,
                 fetches: dict | None = None):
        """FEEDS and FETCHES: each graph's input name and output names (GraphRoles); None: first input, all."""
        self._graphs = (encoder_bytes, decoder_bytes)
        self._names = {"feeds": feeds or {}, "fetches": fetches or {}}
        self._threads = max(1, threads)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._finalizer = None
        self.memory_mb, self.seconds = foreign_limits()

    # -- the child --------------------------------------------------------------------------------------
    def _start(self) -> None:
        args = [sys.executable, "-I", str(WORKER), str(self.memory_mb * 1024**2), str(self.seconds), str(self._threads)]
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "LD_LIBRARY_PATH")}
        env["OMP_NUM_THREADS"] = str(self._threads)
        self._process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, env=env, close_fds=True)
        self._finalizer = weakref.finalize(self, _stop, self._process)
        encoder, decoder = self._graphs
        self._call({"op": "load", "sizes": [len(encoder), len(decoder)], **self._names}, [encoder, decoder])

    def close(self) -> None:
        """End the child now (it is ended anyway when this object goes)."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    # -- one request ------------------------------------------------------------------------------------
    def run(self, graph: str, array: np.ndarray) -> list[np.ndarray]:
        array = np.ascontiguousarray(array, np.float32)
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            header, payload = self._call({"op": "run", "graph": graph, "shape": list(array.shape)}, [array.tobytes()])
        outputs, offset = [], 0
        for shape in header["shapes"]:
            n = int(np.prod(shape, dtype=np.int64)) * 4
            outputs.append(np.frombuffer(payload, np.float32, n // 4, offset).reshape(shape))
            offset += n
        return outputs

    def _call(self, header: dict, payload: list[bytes]) -> tuple[dict, bytes]:
        process = self._process
        header = dict(header, bytes=sum(len(p) for p in payload))
        text = json.dumps(header).encode()
        deadline = time.monotonic() + self.seconds
        try:
            process.stdin.write(onnx_worker._HEADER.pack(len(text)) + text)
            for p in payload:
                process.stdin.write(p)
            process.stdin.flush()
            (n,) = onnx_worker._HEADER.unpack(self._read(onnx_worker._HEADER.size, deadline))
            reply = json.loads(self._read(n, deadline))
            data = self._read(int(reply.get("bytes", 0)), deadline)
        except TimeoutError:  # an OSError too: caught first (the child may still be computing)
            self._fail(UserError("The foreign model took longer than {seconds} seconds for one call, the limit "
                                 "({env}); it was stopped.", seconds=self.seconds, env=FOREIGN_SECONDS_ENV))
        except (BrokenPipeError, EOFError, OSError, ValueError):
            self._fail(self._death_sentence())
        if not reply.get("ok"):
            if reply.get("kind") == "memory":
                self._fail(self._memory_sentence())
            raise UserError("ONNX Runtime cannot run this model: {why}", why=reply.get("why", "?"))
        return reply, data

    def _read(self, n: int, deadline: float) -> bytes:
        """N bytes of the child's reply, or TimeoutError at DEADLINE (the child is then killed)."""
        fd, chunks, got = self._process.stdout.fileno(), [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _fail(self, error: UserError):
        self.close()  # a fresh child for the next call: this one may hold what it allocated
        raise error

    def _memory_sentence(self) -> UserError:
        return UserError("The foreign model needs more than {mb:,} MB of memory for this call, the limit "
                         "({env}); it was stopped.", mb=self.memory_mb, env=FOREIGN_MB_ENV)

    def _death_sentence(self) -> UserError:
        try:
            code = self._process.wait(timeout=5) if self._process is not None else None
        except subprocess.TimeoutExpired:  # its pipe broke but it lives on: ended here, said as what it is
            self._process.kill()
            code = None
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            return UserError("The foreign model used more than {seconds} seconds of CPU time for one call, the "
                             "limit ({env}); it was stopped.", seconds=self.seconds, env=FOREIGN_SECONDS_ENV)
        return self._memory_sentence() if code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS) else \
            UserError("The foreign model's process ended unexpectedly (exit status {code}).", code=code)

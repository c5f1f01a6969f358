"""The child process that runs a foreign ONNX pair (training/models/sandbox.py starts it and is its only client).

It imports only the standard library, numpy and ONNX Runtime (no torch, nothing of the library), so it starts
in about half a second and costs what its graphs cost. Its limits are set before ONNX Runtime is imported:

    argv[1]  memory     bytes of address space (RLIMIT_AS): an allocation above it fails inside the graph
    argv[2]  seconds    CPU seconds of one call: the soft RLIMIT_CPU is raised to used + seconds before each
                        call, so a call past it is ended by the kernel (SIGXCPU), however the graph loops
    argv[3]  threads    ONNX Runtime's intra-op threads

The protocol on stdin/stdout, one frame each way per request: a 4-byte big-endian length, a JSON header of that
length, then the raw bytes the header announces. Requests: {"op": "load", "sizes": [n_enc, n_dec], "feeds":
{"encoder": name | null, ...}, "fetches": {"encoder": [names] | null, ...}} + both graphs' bytes (the input
each graph is fed and the outputs asked of it, by name, as training/models/onnx_roles.py read them; null: the
first input, every output); {"op": "run", "graph": "encoder" | "decoder", "shape": [...]} + float32 bytes. Replies:
{"ok": true, "shapes": [[...], ...]} + each output's float32 bytes in turn, or {"ok": false, "kind":
"memory" | "runtime", "why": "first line"}. End of stdin ends the process (its parent closed or died).
"""

from __future__ import annotations

import json
import resource
import struct
import sys

_HEADER = struct.Struct(">I")
MEMORY_WORDS = ("allocate", "bad_alloc", "memory")


def _read_exact(stream, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError
    return data


def _receive(stream) -> tuple[dict, bytes]:
    (n,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    header = json.loads(_read_exact(stream, n))
    size = int(header.get("bytes", 0))
    return header, _read_exact(stream, size) if size else b""


def _send(stream, header: dict, payload: list[bytes] = ()) -> None:
    header = dict(header, bytes=sum(len(p) for p in payload))
    text = json.dumps(header).encode()
    stream.write(_HEADER.pack(len(text)) + text)
    for p in payload:
        stream.write(p)
    stream.flush()


def _failure(err: BaseException) -> dict:
    why = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
    memory = isinstance(err, MemoryError) or any(w in why.lower() for w in MEMORY_WORDS)
    return {"ok": False, "kind": "memory" if memory else "runtime", "why": why}


def _cpu_budget(seconds: float) -> None:
    """Let the coming call use SECONDS more of CPU time: past it the kernel sends SIGXCPU, which ends us."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    soft = int(spent + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def main(argv: list[str]) -> int:
    memory, seconds, threads = int(argv[1]), float(argv[2]), int(argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import numpy as np
    import onnxruntime as ort

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames may reach the parent's pipe
    sessions: dict[str, object] = {}
    feeds: dict[str, str | None] = {}
    fetches: dict[str, list[str] | None] = {}
    while True:
        try:
            header, payload = _receive(stdin)
        except EOFError:
            return 0
        _cpu_budget(seconds)
        try:
            if header["op"] == "load":
                n_enc, n_dec = header["sizes"]
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                sessions = {role: ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
                            for role, blob in (("encoder", payload[:n_enc]), ("decoder", payload[n_enc:n_enc + n_dec]))}
                feeds, fetches = header.get("feeds") or {}, header.get("fetches") or {}
                _send(stdout, {"ok": True, "shapes": []})
                continue
            session = sessions[header["graph"]]
            array = np.frombuffer(payload, np.float32).reshape(header["shape"])
            name = feeds.get(header["graph"]) or session.get_inputs()[0].name
            outputs = session.run(fetches.get(header["graph"]), {name: array})
            outputs = [np.ascontiguousarray(o, np.float32) for o in outputs]
            _send(stdout, {"ok": True, "shapes": [list(o.shape) for o in outputs]}, [o.tobytes() for o in outputs])
        except EOFError:
            return 0
        except BaseException as err:  # ONNX Runtime's refusals, failed allocations: one line back to the parent
            _send(stdout, _failure(err))


if __name__ == "__main__":
    sys.exit(main(sys.argv))

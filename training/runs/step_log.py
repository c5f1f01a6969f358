"""``RUN_DIR/steps.csv``: the per-step reconstruction, KL and beta that the live charts draw.

Rows are ``step,recon,kl,beta,n``: the means over ``n`` consecutive steps ending at global step
``step``. The writer appends a row every ``stride`` steps and flushes at most twice a second; when
the file reaches ``MAX_ROWS`` rows it merges neighbouring rows (means weighted by ``n``), rewrites
the file atomically and doubles the stride. So the file stays under about 200 kB for any length of
training, and a reader never needs more than one read. Readers ignore a last line that is still
being written. No torch here.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import NamedTuple

from training.core.errors import UserError
from training.runs.layout import STEPS, atomic_write, read_bounded

MAX_ROWS = 4000
MAX_STEPS_BYTES = 4 * 1024**2
HEADER = "step,recon,kl,beta,n\n"


class StepRow(NamedTuple):
    step: int      # global step (1-based) of the last step averaged into this row
    recon: float   # nats per image
    kl: float
    beta: float
    n: int = 1     # steps averaged


def _line(r: StepRow) -> str:
    return f"{r.step},{r.recon:.6g},{r.kl:.6g},{r.beta:.6g},{r.n}\n"


def merge(a: StepRow, b: StepRow) -> StepRow:
    n = a.n + b.n
    mean = lambda x, y: (x * a.n + y * b.n) / n  # noqa: E731
    return StepRow(b.step, mean(a.recon, b.recon), mean(a.kl, b.kl), mean(a.beta, b.beta), n)


def read_steps(run_dir: str | Path) -> list[StepRow]:
    """Every complete row of RUN_DIR/steps.csv (empty if there is none)."""
    path = Path(run_dir) / STEPS
    try:
        text = read_bounded(path, MAX_STEPS_BYTES, "a step log", too_large=lambda size: UserError(
            "{path} is over {value} MB; that is not a step log.", path=path, value=MAX_STEPS_BYTES // 1024**2,
        )).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    rows = []
    lines = text.split("\n")
    for line in lines[1:-1]:  # header first; the last piece has no newline yet (or is empty)
        parts = line.split(",")
        try:
            step, n = int(parts[0]), int(parts[4])
            recon, kl, beta = float(parts[1]), float(parts[2]), float(parts[3])
        except (IndexError, ValueError):
            raise UserError("{path} has a malformed row: {line!r}.",
                path=path, line=line[:60]) from None
        rows.append(StepRow(step, recon, kl, beta, n))
    return rows


def _append(path: Path):
    """PATH opened to append to, never through a link, never blocking, only if it is a regular file."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError("{path} is not a regular file; {what} must be one.", path=path, what="a step log")
    return os.fdopen(fd, "ab")


class StepLogWriter:
    """Owned by the training process; ``add`` is called after every step."""

    def __init__(self, run_dir: str | Path, start_step: int = 0, max_rows: int = MAX_ROWS, flush_every: float = 0.5):
        self.path = Path(run_dir) / STEPS
        self.max_rows, self.flush_every = max_rows, flush_every
        # a resumed run keeps the rows up to the step it resumes from (a killed epoch's rows go)
        kept = [r for r in read_steps(run_dir) if r.step <= start_step] if start_step > 0 else []
        self.rows: list[StepRow] = kept
        self.stride = kept[-1].n if kept else 1
        self._bucket: StepRow | None = None
        self._unwritten = 0
        self._last_flush = time.monotonic()
        self._rewrite()

    def add(self, step: int, recon: float, kl: float, beta: float) -> None:
        row = StepRow(step, recon, kl, beta, 1)
        self._bucket = row if self._bucket is None else merge(self._bucket, row)
        if self._bucket.n >= self.stride:
            self.rows.append(self._bucket)
            self._bucket = None
            self._unwritten += 1
            if len(self.rows) >= self.max_rows:
                self._compact()
        if self._unwritten and time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if self._unwritten:
            with _append(self.path) as f:
                f.write("".join(_line(r) for r in self.rows[-self._unwritten:]).encode())
            self._unwritten = 0
        self._last_flush = time.monotonic()

    def _compact(self) -> None:
        rows = self.rows
        self.rows = [merge(rows[i], rows[i + 1]) if i + 1 < len(rows) else rows[i] for i in range(0, len(rows), 2)]
        self.stride *= 2
        self._rewrite()

    def _rewrite(self) -> None:
        atomic_write(self.path, (HEADER + "".join(_line(r) for r in self.rows)).encode(), durable=False)
        self._unwritten = 0
        self._last_flush = time.monotonic()

"""What a served app lets many visitors write: a free-disk floor, and uploads per address and per runs folder.

    free disk      free(ROOT) >= floor, else every upload and every training is refused (check_free_disk)
    uploads        over the last hour, per visitor address a and per runs folder R:
                       count(a) < n_a   and  bytes(a) + b <= m_a
                       count(R) < n_R   and  bytes(R) + b <= m_R
                   else the upload of b bytes is refused (admit_upload)

The hour's uploads are kept in ROOT/.uploads.json, a small ledger beside the runs (read bounded, written
whole by the one atomic writer, under an flock on ROOT/.uploads.lock so that two sessions, two browsers or
two server processes cannot both take the last place), so the quotas hold across sessions, browser contexts
and restarts. A visitor's address is kept only as a hash. The limits are the operator's
(training/core/environment.py). No torch here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from training.core.environment import (FOLDER_UPLOAD_MB_PER_HOUR_ENV, FOLDER_UPLOADS_PER_HOUR_ENV,
                                       UPLOAD_MB_PER_HOUR_ENV, UPLOADS_PER_HOUR_ENV, upload_quota)
from training.core.errors import UserError, sentence
from training.core.files import atomic_write, read_bounded

LEDGER, LEDGER_LOCK = ".uploads.json", ".uploads.lock"
WINDOW_S = 3600.0
MAX_LEDGER_BYTES = 1024**2  # a full hour of a folder's uploads is far less; anything bigger is not ours
MB = 1024**2


def check_free_disk(root: str | Path, floor_mb: int) -> None:
    """Refuse with one sentence when the disk that holds the runs folder ROOT has less than FLOOR_MB free
    (0: no floor). Trainings and uploads call it before they write anything."""
    if floor_mb <= 0:
        return
    where = Path(root)
    while not where.exists() and where != where.parent:  # a runs folder not made yet: the disk it will be on
        where = where.parent
    free_mb = shutil.disk_usage(where).free // MB
    if free_mb < floor_mb:
        raise UserError("The server's disk has only {free} MB free, less than the {floor} MB it keeps free; "
                        "nothing more can be saved or trained until space is freed.", free=free_mb, floor=floor_mb)


def visitor_key(address: str) -> str:
    """What the ledger keeps of a visitor's address: a hash of it."""
    return hashlib.sha256(address.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _entries(path: Path, now: float) -> list[dict]:
    """The ledger's uploads of the last hour; an unreadable or foreign ledger counts as empty."""
    try:  # the one checked reader: no link, no FIFO or device, bounded
        data = json.loads(read_bounded(path, MAX_LEDGER_BYTES, "an upload ledger"))
    except (OSError, ValueError, RecursionError, UserError):
        return []
    rows = data.get("uploads") if isinstance(data, dict) else None
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("t"), (int, float))
            and isinstance(r.get("bytes"), int) and isinstance(r.get("who"), str)
            and now - WINDOW_S < r["t"] <= now] if isinstance(rows, list) else []


def _wait_minutes(rows: list[dict], now: float) -> int:
    """Minutes until the oldest of ROWS leaves the hour (at least 1)."""
    return max(1, int((min(r["t"] for r in rows) + WINDOW_S - now) // 60) + 1)


_REFUSALS = {  # (per address?, by count?) -> the sentence
    (True, True): sentence("This server takes at most {limit} uploads an hour from one address; try again in "
                           "{minutes} minutes."),
    (True, False): sentence("This server takes at most {limit} MB of uploads an hour from one address; try again "
                            "in {minutes} minutes."),
    (False, True): sentence("This runs folder takes at most {limit} uploads an hour; try again in {minutes} minutes."),
    (False, False): sentence("This runs folder takes at most {limit} MB of uploads an hour; try again in {minutes} "
                             "minutes."),
}


def _refusal(rows: list[dict], size: int, count_limit: int, mb_limit: int, now: float, per_address: bool) -> None:
    if len(rows) >= count_limit:
        raise UserError(_REFUSALS[per_address, True], limit=count_limit, minutes=_wait_minutes(rows, now))
    if sum(r["bytes"] for r in rows) + size > mb_limit * MB:
        minutes = _wait_minutes(rows, now) if rows else 60
        raise UserError(_REFUSALS[per_address, False], limit=mb_limit, minutes=minutes)


def admit_upload(root: str | Path, address: str, size: int, now: float | None = None) -> None:
    """Count an upload of SIZE bytes from ADDRESS into the runs folder ROOT, or refuse it with one sentence
    (nothing is recorded then). Every admitted upload counts, whether its checks then save it or not: the
    checks are what costs the server."""
    root = Path(root)
    now = time.time() if now is None else now
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = os.open(root / LEDGER_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise UserError("The runs folder {parent} cannot be written ({strerror}).", parent=root,
                        strerror=err.strerror) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = _entries(root / LEDGER, now)
        who = visitor_key(address)
        _refusal([r for r in rows if r["who"] == who], size, upload_quota(UPLOADS_PER_HOUR_ENV),
                 upload_quota(UPLOAD_MB_PER_HOUR_ENV), now, per_address=True)
        _refusal(rows, size, upload_quota(FOLDER_UPLOADS_PER_HOUR_ENV), upload_quota(FOLDER_UPLOAD_MB_PER_HOUR_ENV),
                 now, per_address=False)
        rows.append({"t": now, "who": who, "bytes": int(size)})
        atomic_write(root / LEDGER, json.dumps({"uploads": rows}).encode(), durable=False)
    finally:
        os.close(lock)  # drops the flock

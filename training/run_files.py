"""Names of the files in a run folder, and reading its history: no torch needed.

    RUN_DIR/config.json              RunConfig (validated on load)
    RUN_DIR/model.safetensors        weights only (what the explorer loads and users share)
    RUN_DIR/history.jsonl            one JSON object per finished epoch
    RUN_DIR/checkpoint.safetensors   what --resume needs
"""

from __future__ import annotations

import json
from pathlib import Path

from training.errors import UserError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
HISTORY = "history.jsonl"
CHECKPOINT = "checkpoint.safetensors"
MAX_HISTORY_BYTES = 64 * 1024**2


def read_history(run_dir: str | Path) -> list[dict]:
    """The per-epoch records of RUN_DIR (empty if it has none yet)."""
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    if path.stat().st_size > MAX_HISTORY_BYTES:
        raise UserError(f"{path} is over {MAX_HISTORY_BYTES // 1024**2} MB; that is not a training history.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not a text file (byte {err.start} is not UTF-8).") from None
    history = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise UserError(f"{path} line {n} is not valid JSON.") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("epoch"), int):
            raise UserError(f"{path} line {n} is not an epoch record.")
        history.append(rec)
    return history

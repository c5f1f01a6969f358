"""A beta sweep: one training per value of beta, every other setting equal, tied together by a manifest.

Why beta: it weighs the rate KL(p(z|x) || q(z)) against the distortion -ln q(x|z) in the loss (E1), so a
sweep over beta traces the rate-distortion curve of one model and data set, and shows what a larger
weight on the prior does to the code (its MIG, its traversals).

A sweep NAME in a runs folder ROOT is

    ROOT/NAME.sweep.json      the manifest: its name, its betas and the names of its runs
    ROOT/NAME-beta<b>/        one ordinary run folder per beta (training/runs/layout.py has the layout)

The manifest is written (atomically, and only if no sweep of that name exists) before any run is
queued, and read back validated: JSON, never pickle; a damaged one is one sentence. Starting a sweep
(``training.jobs.control.start_sweep``) queues its runs one after the other, exactly like a training
started alone, so they wait in the runs folder's queue (training/runs/queue.py) and are stopped, resumed
and deleted like any other. This module is the manifest and the names; no torch here.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from training.core.config import RunConfig
from training.core.errors import Phrase, UserError, sweep_exists
from training.core.files import write_temporary
from training.core.settings import NameOf, setting_sentence
from training.runs.layout import check_run_name, file_stamp, is_run_name, read_bounded, run_path

FORMAT = "vae-explorer/sweep"
MIN_BETAS, MAX_BETAS = 2, 8
MAX_MANIFEST_BYTES = 64 * 1024

SWEEP_SUFFIX = ".sweep.json"


@dataclass(frozen=True)
class Sweep:
    """What a manifest holds: run ``runs[i]`` trains with ``betas[i]``."""

    name: str
    betas: tuple[float, ...]
    runs: tuple[str, ...]
    created_at: float = 0.0

    def run_dirs(self, root: str | Path) -> list[Path]:
        return [Path(root) / run for run in self.runs]

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "name": self.name, "betas": list(self.betas), "runs": list(self.runs),
                           "created_at": self.created_at}, indent=1) + "\n"

    @classmethod
    def from_dict(cls, data: object, name: str, source: str) -> "Sweep":
        """A manifest's parsed JSON, checked (``_fits``); anything else is one sentence."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError("{source} is not a sweep manifest written by this project.", source=source)
        if not _fits(data, name):
            raise UserError("{source} is a damaged sweep manifest (its name, betas or runs do not fit together).",
                            source=source)
        return cls(name=name, betas=tuple(float(b) for b in data["betas"]), runs=tuple(data["runs"]),
                   created_at=float(data.get("created_at", 0.0)))


def _fits(data: dict, name: str) -> bool:
    """Whether a manifest's fields fit together: its own name, 2 to MAX_BETAS positive finite betas, each run
    the one ``sweep_run_name`` gives its beta (so no name can point outside the runs folder), a time."""
    betas, runs, created = data.get("betas"), data.get("runs"), data.get("created_at", 0.0)
    try:
        if not (data.get("name") == name and isinstance(betas, list) and isinstance(runs, list)
                and MIN_BETAS <= len(betas) == len(runs) <= MAX_BETAS and len(set(runs)) == len(runs)
                and all(_is_number(b) and math.isfinite(b) and b > 0 for b in betas)
                and _is_number(created) and math.isfinite(created)):
            return False
        return [sweep_run_name(name, float(b)) for b in betas] == runs
    except (UserError, OverflowError, TypeError):  # a name too long, an integer past any float
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- what the user typed ---------------------------------------------------------------------------
def parse_betas(text: str, field: str) -> tuple[float, ...]:
    """'0.5, 1, 2, 4, 8' -> (0.5, 1.0, 2.0, 4.0, 8.0), in the order typed. FIELD names the input in the
    caller's words ('--beta', or the form's label); each mistake is one sentence naming it."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",")]
    try:
        betas = tuple(float(p) for p in parts if p)
    except ValueError:
        raise UserError("{field} must be numbers separated by commas, like 0.5, 1, 2, 4, 8, not {text!r}.",
                        field=field, text=text) from None
    bad = next((b for b in betas if not (math.isfinite(b) and b > 0)), None)
    if bad is not None:
        raise UserError("Every value of {field} must be a number more than 0, not {value:g}.", field=field, value=bad)
    if len(betas) < MIN_BETAS:
        raise UserError("{field} needs at least {least} values for a sweep, not {count}.", field=field,
                        least=MIN_BETAS, count=len(betas))
    if len(betas) > MAX_BETAS:
        raise UserError("{field} has {count} values; a sweep has at most {most}.", field=field, count=len(betas),
                        most=MAX_BETAS)
    seen: set[str] = set()
    for b in betas:
        if f"{b:g}" in seen:
            raise UserError("{field} lists {value:g} twice; each value gives one run.", field=field, value=b)
        seen.add(f"{b:g}")
    return betas


def configs(config, betas: tuple[float, ...], name_of: NameOf) -> list:
    """CONFIG with each beta in turn, every other setting equal; a beta the config refuses is one sentence
    naming it as ``name_of`` does."""
    out = []
    for beta in betas:
        try:
            out.append(RunConfig(model=config.model.model_dump(),
                                 train=config.train.model_copy(update={"beta": beta}).model_dump()))
        except ValidationError as err:
            raise setting_sentence(err, name_of) from None
    return out


# -- names, read, find ------------------------------------------------------------------------------
def sweep_manifest_path(root: str | Path, name: str) -> Path:
    """ROOT/NAME.sweep.json, the manifest of the beta sweep NAME; NAME is checked like a run name."""
    return run_path(root, name).with_name(check_run_name(name) + SWEEP_SUFFIX)


def sweep_run_name(name: str, beta: float) -> str:
    """The run of sweep NAME for BETA: 'NAME-beta0.5', 'NAME-beta1', 'NAME-beta1e-05' (six significant
    digits, so two betas that print alike share a name and are refused as one value typed twice)."""
    return check_run_name(f"{name}-beta{beta:g}".replace("+", ""))


def create_manifest(root: str | Path, sweep: Sweep) -> None:
    """Write SWEEP's manifest into ROOT, refused with one sentence if a sweep of that name exists."""
    _create_exclusively(sweep_manifest_path(root, sweep.name), sweep.to_json().encode())


def read_sweep(root: str | Path, name: str) -> Sweep:
    """The manifest of sweep NAME in ROOT, validated; a missing or damaged one is one sentence."""
    path = sweep_manifest_path(root, name)
    if not path.is_file():
        raise UserError("There is no sweep named {name!r} in {parent}.", name=name, parent=path.parent)
    try:
        data = json.loads(read_bounded(path, MAX_MANIFEST_BYTES, Phrase("a sweep manifest")))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise UserError("{path} is not valid JSON.", path=path) from None
    return Sweep.from_dict(data, name, str(path))


def sweep_names(root: str | Path) -> list[str]:
    """The sweeps of ROOT, newest first (their contents unread: see ``read_sweep``)."""
    try:
        found = [p for p in Path(root).iterdir() if p.name.endswith(SWEEP_SUFFIX) and p.is_file()]
    except OSError:
        return []
    found.sort(key=lambda p: file_stamp(p)[0], reverse=True)
    return [n for n in (p.name[:-len(SWEEP_SUFFIX)] for p in found) if is_run_name(n)]


def sweep_of(run_dir: str | Path) -> str | None:
    """The name of the sweep RUN_DIR belongs to, if its runs folder holds one that lists it."""
    run_dir = Path(run_dir)
    for name in sweep_names(run_dir.parent):
        try:
            if run_dir.name in read_sweep(run_dir.parent, name).runs:
                return name
        except (UserError, OSError):
            continue
    return None


def _create_exclusively(path: Path, data: bytes) -> None:
    """Write PATH atomically, refusing it if it exists: the bytes go to a hidden file beside it, which is then
    hard-linked to its name (a link never replaces a file) and removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_temporary(path, data, durable=True, mode=0o644)
    try:
        try:
            try:
                os.link(tmp, path)
            except OSError as err:
                if isinstance(err, FileExistsError):
                    raise
                with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb") as f:
                    f.write(data)  # a file system without hard links: exclusive still, though not all at once
        except FileExistsError:
            raise sweep_exists(path.name[:-len(SWEEP_SUFFIX)], path.parent) from None
    finally:
        Path(tmp).unlink(missing_ok=True)

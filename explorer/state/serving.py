"""Who may name the server's folders: the person running the app on their own machine, or, once the app
is served to others, only its operator.

Local (the server listens on loopback only, the default): visitors type any runs folder (Models page)
and any image folder (Train page), as on a laptop.

Served (the server listens beyond loopback, or VAE_EXPLORER_SERVED=1): the runs folders are the ones
listed in VAE_EXPLORER_RUNS and the image folders the ones listed in VAE_EXPLORER_IMAGE_FOLDERS (paths
separated by the system's path separator, ":" on Linux and macOS). Visitors pick among them and cannot
type a path, so trainings and uploads land only there and the Latent map shows only those images.
VAE_EXPLORER_SERVED=0 gives visitors of a served app the local freedom (the operator's explicit choice).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import streamlit as st

from explorer import DEMOS
from training.core import quota
from training.core.environment import cache_root, data_root, min_free_mb
from training.core.errors import UserError

SERVED_ENV = "VAE_EXPLORER_SERVED"
RUNS_ENV = "VAE_EXPLORER_RUNS"
IMAGE_FOLDERS_ENV = "VAE_EXPLORER_IMAGE_FOLDERS"
LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


def served() -> bool:
    """Whether visitors are kept to the operator's folders."""
    text = os.environ.get(SERVED_ENV, "").strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    if text:
        raise UserError("{served_env} must be 1 or 0, not {text!r}.",
            served_env=SERVED_ENV, text=text)
    address = (st.get_option("server.address") or "").strip()
    return address not in LOOPBACK  # unset or empty: Streamlit listens on every interface


def _listed(name: str, default: list[str]) -> list[Path]:
    text = os.environ.get(name, "")
    entries = [e.strip() for e in text.split(os.pathsep) if e.strip()] or default
    return [Path(e).expanduser().resolve() for e in entries]


def runs_folders() -> list[Path]:
    """The runs folders the operator offers (the first is the default)."""
    return _listed(RUNS_ENV, ["runs"])


def image_folders() -> list[Path]:
    """The image folders the operator offers for 'folder:' trainings (none unless listed)."""
    return _listed(IMAGE_FOLDERS_ENV, [])


def check_image_folder(path: str) -> None:
    """In served mode an image folder must be one the operator listed; locally anything goes."""
    if served() and Path(path).expanduser().resolve() not in image_folders():
        raise UserError("This server trains only on the image folders its operator offers; pick one of them.")


# -- what many visitors may write (training/core/quota.py) ------------------------------------------------------
def visitor_address() -> str:
    """The visitor's network address (the TCP peer Streamlit saw), the same for every browser and session on
    it; 'local' for this machine and for sessions without a connection (tests)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no runtime (a script, a test): no address to tell
        address = None
    return address if isinstance(address, str) and address else "local"


def check_free_disk(root: str | Path) -> None:
    """Refuse with one sentence when the runs folder's disk is below the operator's floor
    (VAE_EXPLORER_MIN_FREE_MB; 1024 MB by default when served, none locally). Uploads and trainings call it."""
    quota.check_free_disk(root, min_free_mb(served()))


def admit_upload(root: str | Path, size: int) -> None:
    """Before an upload of SIZE bytes into ROOT is checked: the disk floor, and when served the hour's upload
    quotas of this visitor's address and of the runs folder; one sentence if refused, nothing written."""
    check_free_disk(root)
    if served():
        quota.admit_upload(root, visitor_address(), size)


# -- what visitors of a served app read: names, not the server's paths or process ids ----------------------------
_ABSOLUTE = re.compile(r"(?<![\w.~/:\\-])/(?:[^\s/`'\"<>|]+/)+[^\s/`'\"<>|]*")  # two parts or more: /a/b, /a/b/
_START, _END = r"(?<![\w.~/:\\-])", r"(?=$|[\s`'\",;:)<>|]|\.(?:\s|$))"  # a path's edges in a sentence
_PROCESS = re.compile(r"\b(?:by )?process \d+ on [^\s,;)]+")


def _known_folders() -> list[tuple[str, str]]:
    """(absolute folder, what visitors see instead), longest first: a runs folder and an image folder by their
    names (a run then reads as NAME or SWEEP/NAME, relative to its runs folder), the demos, the project, home."""
    root = Path(__file__).resolve().parent.parent.parent
    named = [(p, "") for p in runs_folders()] + [(p, p.name) for p in image_folders()] + [
        (DEMOS, ""), (data_root(), "data"), (cache_root(), "cache"), (root, ""), (Path.home(), "~")]
    return sorted({str(p): shown for p, shown in named}.items(), key=lambda item: -len(item[0]))


def public_text(text: str) -> str:
    """TEXT as a served app's visitor may read it: every path under a known folder relative to it (a runs
    folder alone by its name), any other absolute path by its last part, and no process id or host."""
    for folder, shown in _known_folders():
        inside = re.compile(_START + re.escape(folder.rstrip("/")) + "/")
        text = inside.sub(lambda m, shown=shown: shown + "/" if shown else "", text)
        alone = re.compile(_START + re.escape(folder.rstrip("/")) + _END)
        text = alone.sub(lambda m, shown=shown, folder=folder: shown or Path(folder).name, text)
    text = _ABSOLUTE.sub(lambda m: Path(m.group(0)).name or m.group(0), text)
    return _PROCESS.sub(lambda m: "by another process" if m.group(0).startswith("by ") else "another process", text)


def shown_path(path: str | Path) -> str:
    """How a page names a server folder or file: as it is on one's own machine, by its name when served."""
    return public_text(str(path)) if served() else str(path)


def widget_key(path: str | Path) -> str:
    """A run's part of its widgets' keys, which the browser sees in the page: its path on one's own machine,
    an opaque digest of it when served."""
    return hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:16] if served() else str(path)

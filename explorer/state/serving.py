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

import os
from pathlib import Path

import streamlit as st

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

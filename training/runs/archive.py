"""A model as one .zip: what the Models page downloads ("all as .zip") and takes back as an upload.

Reading is checked before anything is extracted: the archive must be a zip; its members only the files
of a run (config.json, model.safetensors, history.jsonl) or of an ONNX model (encoder.onnx,
decoder.onnx, model.json), at most inside one folder; no absolute paths, no "..", no links, no
directories of their own, no member twice; each member's declared size and all of them together within
the limit, and no member larger once read than it declared (a zip bomb stops at the limit). Nested
archives have no allowed name, and neither has adapter.json (one's own code is named on the command line
only, training/models/adapter.py). The bytes are returned, not written: the upload then validates them
like the separate files.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import PurePosixPath

from training.core.errors import UserError
from training.runs.layout import CONFIG, HISTORY, ONNX_DECODER, ONNX_ENCODER, ONNX_META, WEIGHTS

MEMBERS = (CONFIG, WEIGHTS, HISTORY, ONNX_ENCODER, ONNX_DECODER, ONNX_META)
MAX_MEMBERS = 16


def write(files: dict[str, bytes], folder: str) -> bytes:
    """A zip of FILES inside FOLDER/ (deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def read(data: bytes, limit: int) -> dict[str, bytes]:
    """The allowed members of the zip DATA by file name; refuses anything else with one sentence."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise UserError("The uploaded file is not a zip archive.") from None
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UserError("The zip holds {n} entries; a model's zip holds at most {most}.", n=len(infos), most=MAX_MEMBERS)
    found: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    total = 0
    for info in infos:
        path = PurePosixPath(info.filename)
        if info.is_dir():
            if len(path.parts) == 1 and ".." not in path.parts:
                continue
            raise UserError("The zip holds the folder {name}; a model's zip holds only its files.", name=info.filename)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG):
            raise UserError("The zip holds {name}, which is a link or a special file, not a plain file.",
                            name=info.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in info.filename or len(path.parts) > 2:
            raise UserError("The zip holds {name}: a model's files sit at its top or in one folder.",
                            name=info.filename)
        if path.name not in MEMBERS:
            raise UserError("The zip holds {name}, which is no file of a model (expected {names}).",
                            name=info.filename, names=", ".join(MEMBERS))
        if path.name in found:
            raise UserError("The zip holds {name} twice.", name=path.name)
        folders.add(path.parts[0] if len(path.parts) == 2 else "")
        total += info.file_size
        if info.file_size > limit or total > limit:
            raise UserError("The zip's files add up to more than {limit} MB once unpacked.", limit=limit // 1024**2)
        found[path.name] = info
    if len(folders) > 1:
        raise UserError("The zip's files sit in different folders; a model's zip holds one folder.")
    out = {}
    for name, info in found.items():
        with archive.open(info) as member:
            blob = member.read(info.file_size + 1)
        if len(blob) != info.file_size:
            raise UserError("The zip's {name} is not the size it declares.", name=name)
        out[name] = blob
    return out

"""A model as one .zip: what the Models page downloads ("all as .zip") and takes back as an upload.

A run's zip holds every file of the run folder that a page reads (``run_files``): config.json,
model.safetensors, history.jsonl, steps.csv and snapshots/epoch-NNNN.safetensors; never its lock, status,
log or stop request, which belong to the process that trained it, nor checkpoint.safetensors (the optimizer's
state for --resume: an uploaded run is a finished one, and the file would double the download). An ONNX model's
zip holds encoder.onnx, decoder.onnx and model.json.

Reading is checked before anything is extracted: the zip's end record is read first, so a central
directory of more than ``MAX_MEMBERS`` entries or ``MAX_DIRECTORY_BYTES`` bytes is refused before it is
parsed; the members must be only those files, at the top or inside one folder (snapshots in their own
subfolder); no absolute paths, no "..", no links, no encrypted members, no directories but those, no member
twice; each member's declared size and all of them together within the limit, and no member larger once
read than it declared (a zip bomb stops at the limit); a damaged member (checksum, truncation) is one
sentence. Nested archives have no allowed name, and neither has adapter.json (one's own code is named on
the command line only, training/models/adapter.py). The bytes are returned, not written: the upload then
validates them with the readers the pages use.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from training.core.costs import MB
from training.core.environment import WEIGHTS_ENV, limit_mb
from training.core.errors import Phrase, UserError
from training.core.files import read_bounded
from training.runs.layout import CONFIG, HISTORY, ONNX_DECODER, ONNX_ENCODER, ONNX_META, STEPS, WEIGHTS
from training.runs.snapshots import SNAPSHOTS

MEMBERS = (CONFIG, WEIGHTS, HISTORY, STEPS, ONNX_ENCODER, ONNX_DECODER, ONNX_META)
SNAPSHOT = re.compile(r"epoch-([0-9]{4}|[1-9][0-9]{4,8})\.safetensors")  # exactly as snapshots.path_of names them
MAX_MEMBERS = 96  # the files above, up to about 80 snapshots, and their folders
MAX_DIRECTORY_BYTES = 256 * 1024  # the central directory: under 300 bytes an entry
_END = struct.Struct("<4s4H2LH")             # End Of Central Directory record
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
# What zipfile and zlib raise on a damaged, truncated or unsupported archive
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, struct.error, OverflowError,
            ValueError, NotImplementedError, RuntimeError)


def run_files(run_dir: str | Path) -> dict[str, bytes]:
    """The files of RUN_DIR that travel in its zip, by their path inside the run folder."""
    run_dir = Path(run_dir)
    names = [name for name in MEMBERS if (run_dir / name).is_file()]
    folder = run_dir / SNAPSHOTS
    if folder.is_dir():
        names += sorted(f"{SNAPSHOTS}/{p.name}" for p in folder.iterdir() if SNAPSHOT.fullmatch(p.name)
                        and p.is_file())
    limit = limit_mb(WEIGHTS_ENV) * MB  # no file of a model is larger; links and FIFOs are refused
    return {name: read_bounded(run_dir / name, limit, Phrase("a file of a model")) for name in names}


def write(files: dict[str, bytes], folder: str) -> bytes:
    """A zip of FILES inside FOLDER/ (deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def directory_size(data: bytes) -> tuple[int, int]:
    """(entries, bytes) of the central directory of the zip DATA, from its end record (or its ZIP64 end
    record if it has one, as zipfile reads it), without parsing the directory itself. The bytes bound what
    zipfile parses whatever the count claims."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - _END.size - 0xFFFF))
    if at < 0 or len(data) - at < _END.size:
        raise UserError("The uploaded file is not a zip archive.")
    _, _, _, here, entries, size, _, _ = _END.unpack_from(data, at)
    entries = max(here, entries)
    locator = at - _END64_LOCATOR.size
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        start = locator - _END64.size
        if start < 0 or data[start:start + 4] != b"PK\x06\x06":
            raise UserError("The uploaded file is not a zip archive.")
        fields = _END64.unpack_from(data, start)
        entries, size = max(fields[6], fields[7]), fields[8]  # what zipfile reads when there is one
    return entries, size


def _member_path(info: zipfile.ZipInfo) -> tuple[str, str]:
    """(folder, path inside the run) of a file member; refuses any path a model's zip does not hold."""
    parts = PurePosixPath(info.filename).parts
    for inner in (parts[-1:], parts[-2:]):
        if inner and (inner[0] in MEMBERS if len(inner) == 1 else
                      inner[0] == SNAPSHOTS and SNAPSHOT.fullmatch(inner[1])):
            folder = parts[:len(parts) - len(inner)]
            if len(folder) <= 1 and ".." not in folder:
                return (folder[0] if folder else ""), "/".join(inner)
            raise UserError("The zip holds {name}: a model's files sit at its top or in one folder.",
                            name=info.filename)
    raise UserError("The zip holds {name}, which is no file of a model (expected {names}).",
                    name=info.filename, names=", ".join(MEMBERS + (f"{SNAPSHOTS}/epoch-NNNN.safetensors",)))


def _check_entry(info: zipfile.ZipInfo) -> bool:
    """Whether INFO is a file member (False: a folder to skip); refuses what no member may be."""
    path = PurePosixPath(info.filename)
    if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
        raise UserError("The zip holds {name}: a model's files sit at its top or in one folder.", name=info.filename)
    if info.is_dir():
        if len(path.parts) == 1 or (len(path.parts) == 2 and path.name == SNAPSHOTS):
            return False
        raise UserError("The zip holds the folder {name}; a model's zip holds only its files.", name=info.filename)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind not in (0, stat.S_IFREG):
        raise UserError("The zip holds {name}, which is a link or a special file, not a plain file.",
                        name=info.filename)
    if info.flag_bits & 0x1:
        raise UserError("The zip's {name} is encrypted; upload a zip without a password.", name=info.filename)
    return True


def read(data: bytes, limit: int) -> dict[str, bytes]:
    """The allowed members of the zip DATA by their path inside the run folder; refuses anything else with
    one sentence."""
    entries, size = directory_size(data)
    if entries > MAX_MEMBERS:
        raise UserError("The zip holds {n} entries; a model's zip holds at most {most}.", n=entries, most=MAX_MEMBERS)
    if size > MAX_DIRECTORY_BYTES:
        raise UserError("The zip's list of entries is {size:,} bytes; a model's zip needs at most {most:,}.",
                        size=size, most=MAX_DIRECTORY_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _DAMAGED:
        raise UserError("The uploaded file is not a zip archive.") from None
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UserError("The zip holds {n} entries; a model's zip holds at most {most}.", n=len(infos), most=MAX_MEMBERS)
    found: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    total = 0
    for info in infos:
        if not _check_entry(info):
            continue
        folder, name = _member_path(info)
        if name in found:
            raise UserError("The zip holds {name} twice.", name=name)
        folders.add(folder)
        total += info.file_size
        if info.file_size > limit or total > limit:
            raise UserError("The zip's files add up to more than {limit} MB once unpacked.", limit=limit // 1024**2)
        found[name] = info
    if len(folders) > 1:
        raise UserError("The zip's files sit in different folders; a model's zip holds one folder.")
    return {name: _member_bytes(archive, info, name) for name, info in found.items()}


def _member_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    """The bytes of one member, read no further than it declares; damage of any kind is one sentence."""
    try:
        with archive.open(info) as member:
            blob = member.read(info.file_size + 1)
    except NotImplementedError:
        raise UserError("The zip's {name} is compressed in a way this app does not read; use deflate or none.",
                        name=name) from None
    except _DAMAGED:
        raise UserError("The zip's {name} is damaged: its data ends early or does not match its checksum.",
                        name=name) from None
    if len(blob) != info.file_size:
        raise UserError("The zip's {name} is not the size it declares.", name=name)
    return blob

"""The one exception type for mistakes a user can make (bad flag, missing file, corrupt upload).

Its message is a single sentence meant for the user; the CLI prints it and exits 2 (in English),
the explorer shows it with ``st.error`` in the visitor's language. Anything else that escapes is a bug.

A message with values is written as a template and its values, ``UserError("The run {name!r} would lie
outside {root}.", name=name, root=root)``: ``str(err)`` is the English sentence, and the app looks the
template up in its catalogue (explorer/i18n.py extracts every ``UserError("...")`` of the library).

A sentence that is kept rather than raised (why a run failed, which files a data set skipped) travels as
``reason(template, **values)``: its English text with its template and values, which the app translates.
"""


def sentence(text: str) -> str:
    """Mark a sentence the app shows (a status reason kept in a constant) for its catalogue; returns TEXT."""
    return text


class Phrase(str):
    """A value of a UserError that is itself words (not a name or a number): the app translates it too."""


class UserError(ValueError):
    """A problem with the user's input, explained in one sentence."""

    def __init__(self, template: str, /, **values):
        self.template, self.values = template, values
        inside = {k: v.raw if isinstance(v, UserError) else v for k, v in values.items()}
        self.raw = template.format(**inside) if values else template  # as it reads inside another sentence
        super().__init__(capitalised(self.raw) if starts_with_words(template, values) else self.raw)


_BOUNDS = {  # pydantic's error type for a broken bound -> our phrase for it
    "less_than_equal": sentence("it must be at most {limit}"),
    "greater_than_equal": sentence("it must be at least {limit}"),
    "less_than": sentence("it must be less than {limit}"),
    "greater_than": sentence("it must be more than {limit}"),
}


def bound_phrase(error: dict) -> "UserError | None":
    """A pydantic error (one item of ``ValidationError.errors()``) that broke a bound, as our phrase with the
    bound's value ('it must be at most 512'); None for any other error."""
    ctx = error.get("ctx") or {}
    if error.get("type") not in _BOUNDS or len(ctx) != 1:
        return None
    return UserError(_BOUNDS[error["type"]], limit=next(iter(ctx.values())))


def starts_with_words(template: str, values: dict) -> bool:
    """Whether a sentence begins with a value that is words ("uploaded weights is ..."), which then takes
    a capital; a name or a path at the start keeps its case."""
    first = template.split("}", 1)[0][1:].split("!")[0].split(":")[0] if template.startswith("{") else None
    return first is not None and isinstance(values.get(first), (Phrase, UserError))


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


import errno as _errno
import os as _os

_OS_REASONS = {
    _errno.ENOSPC: sentence("the disk is full"),
    _errno.EDQUOT: sentence("the disk quota is used up"),
    _errno.EROFS: sentence("it is on a read-only file system"),
    _errno.EACCES: sentence("permission denied"),
    _errno.EPERM: sentence("permission denied"),
    _errno.ENOTDIR: sentence("part of that path is a file, not a folder"),
    _errno.ENOENT: sentence("there is no such file or folder"),
    _errno.EISDIR: sentence("it is a folder, not a file"),
    _errno.ENAMETOOLONG: sentence("the name is too long"),
    _errno.EIO: sentence("the disk reported an input/output error"),
}
OUT_OF_MEMORY = sentence("Out of memory while training or evaluating: choose a smaller batch size, smaller hidden "
                         "sizes or smaller images; the last complete checkpoint, if any, is kept.")


def printable(text: str) -> str:
    """TEXT with the undecodable bytes of file names (Python's surrogate escapes) written as \\xNN."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def os_error_sentence(err: OSError) -> str:
    """One sentence for a file-system failure: which path, and why in plain words."""
    return str(os_error(err))


def os_error(err: OSError) -> "UserError":
    """The UserError for a file-system failure: which path, and why in plain words (translatable)."""
    known = _OS_REASONS.get(err.errno)
    reason = Phrase(known) if known else (err.strerror or type(err).__name__).lower()
    if err.filename is None:
        return UserError("A file could not be read or written: {reason}.", reason=reason)
    path = _os.fsencode(err.filename).decode("utf-8", "backslashreplace")  # printable, whatever its bytes
    return UserError("Cannot use {path}: {reason}.", path=path, reason=reason)


def _out_of_memory(err: BaseException) -> bool:
    if isinstance(err, MemoryError):
        return True
    text = str(err) if isinstance(err, RuntimeError) else ""
    return "out of memory" in text.lower() or "can't allocate memory" in text or "not enough memory" in text.lower()


def as_user_error(err: BaseException) -> UserError | None:
    """The one sentence for a failure the user or the machine caused, not a bug: a file-system error,
    out of memory, a name that is not UTF-8. None for anything else (a bug keeps its traceback)."""
    if isinstance(err, UserError):
        return err
    if isinstance(err, OSError):
        return os_error(err)
    if _out_of_memory(err):
        return UserError(OUT_OF_MEMORY)
    if isinstance(err, UnicodeError):
        return UserError("A file or folder name is not valid UTF-8 text; rename it (its bytes: {detail}).",
                         detail=str(err).splitlines()[0])
    return None


def run_exists(name: str, parent) -> UserError:
    """The one sentence for a run name that is taken (a new training, a sweep's member, an upload)."""
    return UserError("A run named {name!r} already exists in {parent}; choose another name.", name=name,
                     parent=parent)


def sweep_exists(name: str, parent) -> UserError:
    """The one sentence for a sweep name that is taken."""
    return UserError("A sweep named {name!r} already exists in {parent}; choose another name.", name=name,
                     parent=parent)


def out_not_empty(run_dir) -> UserError:
    """The one sentence for a new training whose folder already holds something (--out of the command line)."""
    return UserError("{run_dir} already exists and is not empty; pass --resume to continue it or choose "
                     "another --out.", run_dir=run_dir)


def reason(template: str, **values) -> dict:
    """A kept sentence (a run status's reason, a data set's note) as English text plus its template and values
    (for ``RunStatus.changed``)."""
    kept = {k: v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v) for k, v in values.items()}
    return {"reason": template.format(**kept) if kept else template, "reason_template": template,
            "reason_values": kept or None}


def reason_of(err: BaseException) -> dict:
    """The reason fields for a UserError (its template travels), or its text alone for anything else."""
    template, values = getattr(err, "template", None), getattr(err, "values", None)
    if isinstance(template, str):
        try:
            return reason(template, **(values or {}))
        except (KeyError, IndexError, ValueError):
            pass
    return {"reason": str(err), "reason_template": None, "reason_values": None}

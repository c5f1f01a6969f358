"""A small linter for the project's Dockerfile, for machines without a container engine or hadolint.

    python deploy/dockerfile_check.py [Dockerfile]        exit 0: no problem; 1: one line a problem

It reads the file as Docker does (comments, line continuations, JSON or shell form) and checks what the project
promises of its image: only known instructions, FROM first (an ARG may precede it), a pinned base image (a tag
that is not `latest`, or a digest), every COPY/ADD source present in the build context and not left out by
.dockerignore, `pip install` always with --no-cache-dir, a HEALTHCHECK, an EXPOSE, a USER that is not root before
CMD, and CMD in exec (JSON) form so that `docker stop` reaches the app. tests/test_dockerfile.py runs it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import sys
from pathlib import Path

KNOWN = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
         "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}
ROOT_USERS = {"root", "0", "0:0", "root:root"}


def instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) of a Dockerfile, continuations joined and comments dropped."""
    found, pending, start = [], "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):  # a comment inside a continued instruction is dropped
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        word, _, rest = whole.partition(" ")
        found.append((start, word.upper(), rest.strip()))
    if pending:
        found.append((start, pending.split(" ", 1)[0].upper(), pending.partition(" ")[2].strip()))
    return found


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore's PATTERNS leave PATH out of the build context (the last matching pattern wins)."""
    out = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        pattern = pattern.strip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
            out = not negate
    return out


def _sources(arguments: str) -> list[str]:
    """The sources of COPY/ADD ARGUMENTS (flags such as --chown dropped, the destination left out)."""
    if arguments.startswith("["):
        words = json.loads(arguments)
    else:
        words = shlex.split(arguments)
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


def problems(dockerfile: str | Path, context: str | Path | None = None) -> list[str]:
    """What is wrong with DOCKERFILE built in CONTEXT (its folder by default), one sentence each."""
    dockerfile = Path(dockerfile)
    context = Path(context) if context is not None else dockerfile.parent
    ignore_file = context / ".dockerignore"
    patterns = [p.strip() for p in ignore_file.read_text().splitlines()
                if p.strip() and not p.strip().startswith("#")] if ignore_file.is_file() else []
    steps = instructions(dockerfile.read_text())
    said: list[str] = []
    if not steps:
        return [f"{dockerfile.name} has no instructions."]
    for number, word, _ in steps:
        if word not in KNOWN:
            said.append(f"line {number}: unknown instruction {word}.")
    first = next((s for s in steps if s[1] != "ARG"), None)
    if first is None or first[1] != "FROM":
        said.append("the first instruction (after any ARG) must be FROM.")
    for number, word, arguments in steps:
        if word == "FROM":
            image = [w for w in arguments.split() if not w.startswith("--")][0]
            name, _, tag = image.partition("@")[0].rpartition("/")[2].partition(":")
            if "@" not in image and (not tag or tag == "latest"):
                said.append(f"line {number}: the base image {image} must be pinned to a tag other than latest.")
        if word in ("COPY", "ADD") and "--from" not in arguments:
            for source in _sources(arguments):
                if re.match(r"^[a-z]+://", source):
                    continue
                matches = list(context.glob(source)) if any(c in source for c in "*?[") else [context / source]
                if not any(m.exists() for m in matches):
                    said.append(f"line {number}: {word} source {source} is not in the build context.")
                elif ignored(source, patterns):
                    said.append(f"line {number}: {word} source {source} is left out by .dockerignore.")
        if word == "RUN" and re.search(r"\bpip3?\s+install\b", arguments) and "--no-cache-dir" not in arguments:
            said.append(f"line {number}: pip install without --no-cache-dir keeps its cache in the image.")
        if word == "HEALTHCHECK" and arguments.strip().upper() == "NONE":
            said.append(f"line {number}: HEALTHCHECK NONE turns the health check off.")
    words = [w for _, w, _ in steps]
    for needed in ("HEALTHCHECK", "EXPOSE", "CMD"):
        if needed not in words:
            said.append(f"there is no {needed}.")
    users = [(i, a.split()[0] if a.split() else "") for i, (_, w, a) in enumerate(steps) if w == "USER"]
    cmd_at = max((i for i, w in enumerate(words) if w in ("CMD", "ENTRYPOINT")), default=len(words))
    before = [user for i, user in users if i < cmd_at]
    if not before or before[-1] in ROOT_USERS:
        said.append("the container must switch to a USER that is not root before its CMD.")
    for number, word, arguments in steps:
        if word in ("CMD", "ENTRYPOINT"):
            try:
                exec_form = isinstance(json.loads(arguments), list)
            except ValueError:
                exec_form = False
            if not exec_form:
                said.append(f"line {number}: {word} in shell form; the exec form [\"...\"] lets `docker stop` reach "
                            f"the app.")
    return said


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "Dockerfile"
    found = problems(path)
    for problem in found:
        print(f"{path}: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

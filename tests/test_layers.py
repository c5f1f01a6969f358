"""The import contract (docs/architecture.md): ``training/`` and ``explorer/`` are layered and every import goes
down, never up and never sideways; ``training/`` never imports Streamlit; ``explorer/`` uses only ``training``'s
public names; and no import circle anywhere in the project.

Read from the source with ``ast`` (nothing is imported), counting every import: at the top of a module, inside
a function, under ``if TYPE_CHECKING``, and ``importlib.import_module("...")`` of a literal name. An import
inside a function is still an edge: it only moves the failure from import time to the moment it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("training", "explorer", "benchmarks")  # what the contract covers (tests/ may import anything)

# The layers, bottom first. A module may import its own group and any group of a lower rank; two groups of the
# same rank are siblings and never import each other. A module belongs to the longest group that prefixes its name.
LAYERS = {
    "training.core": 0,        # errors and sentences, configs, costs, settings, the environment
    "training.vae": 1,         # the math: model, likelihoods, objective, evaluation, numpy latent space and decoder
    "training.data": 1,        # data sets by name
    "training.runs": 2,        # the run store: layout, status, lock, queue, step log, checkpoint, snapshots, ...
    "training.analysis": 2,    # latent analysis, embeddings, their cache, disentanglement
    "training.models": 3,      # what kind of model a folder holds, and opening it; ONNX; adapter; the catalogue
    "training.jobs": 4,        # trainer, torchrun, the fit use case, launchers, control
    "training.cli": 5,         # the command line
    "training": 5,             # the package's lazy exports (training/__init__.py)
    "training.__main__": 6,    # python -m training
    "explorer": 7,             # the Streamlit app, on top of the library (explorer/__init__.py: where the demos are)
    "explorer.i18n": 8,        # the visitor's language: every sentence the app shows goes through it
    "explorer.state": 9,       # the app's state: the chosen model, the latent point, the view as a link, visitors
    "explorer.figures": 9,     # charts and images: functions of arrays, no session state
    "explorer.widgets": 10,    # controls shared by pages, and the custom components beside their JavaScript
    "explorer.views": 11,      # the pages (their file names are the URL paths)
    "explorer.app": 12,        # streamlit run explorer/app.py: the navigation and the sidebar
    "benchmarks": 13,          # measures the app and the library
}

# Imports no module of a group may make, whatever the layers say: (group, imported name prefix) -> why.
FORBIDDEN = {
    ("training", "streamlit"): "the library never imports Streamlit; explorer/ is the interface",
    ("explorer", "training.cli"): "the app calls the library, never its command line",
}


# -- reading the project -------------------------------------------------------------------------------------
def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import's base (``from ..errors import x`` in training.data.folder)."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, imported module) for every import in PATH: a name imported from a module counts as that module,
    or as the submodule of that name when the project has one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(module, path.name == "__init__.py", node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in known else base))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            found.append((node.lineno, node.args[0].value))
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def group_of(name: str) -> str | None:
    matches = [g for g in LAYERS if name == g or name.startswith(g + ".")]
    return max(matches, key=len) if matches else None


def in_project(name: str, known: dict[str, Path]) -> str | None:
    """The project module NAME is (or lies in), None for anything outside the project."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def edges() -> tuple[dict[str, Path], list[tuple[str, int, str]]]:
    known = project_modules()
    return known, [(module, line, target) for module, path in known.items()
                   for line, target in imports_of(module, path, known)]


def where(module: str, line: int, known: dict[str, Path]) -> str:
    return f"{known[module].relative_to(ROOT).as_posix()}:{line}"


# -- the contract --------------------------------------------------------------------------------------------
def test_every_import_goes_down_the_layers():
    known, found = edges()
    wrong = []
    for module, line, target in found:
        target = in_project(target, known)
        if target is None:
            continue
        mine, theirs = group_of(module), group_of(target)
        if mine is None or theirs is None or mine == theirs:
            continue
        if LAYERS[theirs] > LAYERS[mine]:
            wrong.append(f"{where(module, line, known)} imports {target}: {mine} (layer {LAYERS[mine]}) may not "
                         f"import {theirs}, a layer above it (layer {LAYERS[theirs]})")
        elif LAYERS[theirs] == LAYERS[mine]:
            wrong.append(f"{where(module, line, known)} imports {target}: {mine} and {theirs} are siblings "
                         f"(both layer {LAYERS[mine]}) and never import each other")
    assert not wrong, "imports against the layers of docs/architecture.md:\n" + "\n".join(wrong)


def test_forbidden_imports():
    known, found = edges()
    wrong = [f"{where(module, line, known)} imports {target}: {why}"
             for module, line, target in found
             for (group, prefix), why in FORBIDDEN.items()
             if _within(module, group) and _within(target, prefix)]
    assert not wrong, "forbidden imports:\n" + "\n".join(wrong)


def test_every_module_has_a_layer():
    """A new top-level package of the project must be placed in LAYERS (else nothing above would be checked)."""
    assert [m for m in project_modules() if group_of(m) is None] == []


def test_no_import_circle():
    known, found = edges()
    graph: dict[str, set[str]] = {m: set() for m in known}
    lines: dict[tuple[str, str], int] = {}
    for module, line, target in found:
        target = in_project(target, known)
        if target is not None and target != module:
            graph[module].add(target)
            lines.setdefault((module, target), line)
    circles = [_a_cycle(component, graph) for component in _strongly_connected(graph) if len(component) > 1]
    shown = [" -> ".join(f"{a} ({where(a, lines[(a, b)], known)})" for a, b in zip(c, c[1:])) + f" -> {c[-1]}"
             for c in circles]
    assert not circles, "import circles (each import shown where it is written):\n" + "\n".join(shown)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (no recursion limit on a long chain of imports)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def _a_cycle(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One circle through the component's first module, as a path that ends where it starts."""
    inside, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to the start
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & inside):
                if child == start:
                    return paths[node] + [start]
                if child not in paths:
                    paths[child] = paths[node] + [child]
                    nxt.append(child)
        frontier = nxt
    return component + [start]


def test_explorer_uses_only_public_names_of_training():
    """The app may import training's modules and their names, never a private one (``_NATIVE_SHAPES``, ``_fit``):
    what starts with an underscore may change without notice, and a page that leans on it breaks unseen."""
    wrong = []
    for module, path in project_modules().items():
        if not _within(module, "explorer"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases = {}  # local name -> the training module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and _within(node.module or "", "training"):
                named = [f"{node.module}.{alias.name}" for alias in node.names]
                aliases.update({(a.asname or a.name): n for a, n in zip(node.names, named)})
            elif isinstance(node, ast.Import):
                named = [a.name for a in node.names if _within(a.name, "training")]
                aliases.update({(a.asname or a.name.split(".")[0]): (a.name if a.asname else "training")
                                for a in node.names if _within(a.name, "training")})
            else:
                continue
            wrong += [f"{path.relative_to(ROOT).as_posix()}:{node.lineno} imports {name}" for name in named
                      if any(part.startswith("_") for part in name.split("."))]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and node.attr.startswith("_"):
                wrong.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno} uses "
                             f"{aliases[node.value.id]}.{node.attr}")
    assert not wrong, "explorer/ reaches into training's private names:\n" + "\n".join(wrong)

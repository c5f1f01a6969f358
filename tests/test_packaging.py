"""The project declares its dependencies once as ranges (pyproject.toml) and pins what the suite runs
against (requirements*.txt); the two agree, and nothing patches sys.path but the app's entry point."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier  # exactly one "==" per line
            assert spec.operator == "==", line
            found[req.name.lower()] = spec.version
    return found


def ranges(requirements: list[str]) -> dict[str, Requirement]:
    return {Requirement(r).name.lower(): Requirement(r) for r in requirements}


def test_every_pin_lies_in_its_declared_range_and_the_lists_name_the_same_packages():
    extras = PROJECT["optional-dependencies"]
    for file, declared in (("requirements.txt", PROJECT["dependencies"]), ("requirements-test.txt", extras["test"]),
                           ("requirements-ray.txt", extras["ray"])):
        pinned, wanted = pins(file), ranges(declared)
        assert set(pinned) == set(wanted), (file, set(pinned) ^ set(wanted))
        for name, version in pinned.items():
            assert wanted[name].specifier.contains(version), f"{file}: {name}=={version} is outside {wanted[name]}"


def test_only_the_app_entry_point_patches_sys_path():
    patched = [p.relative_to(ROOT).as_posix() for folder in ("training", "explorer", "benchmarks", "tests")
               for p in (ROOT / folder).rglob("*.py") if re.search(r"sys\.path\.(insert|append)", p.read_text())]
    assert patched == ["explorer/app.py"]


def test_what_the_first_image_needs_does_not_import_torch():
    """Latent sliders draws its first image with numpy while PyTorch would still be importing (about 1.6 s):
    nothing the page imports before that image may import torch (docs/benchmarks.md, first paint)."""
    import subprocess
    import sys

    code = ("import sys, explorer.state.shared, explorer.widgets.epochs, explorer.state.latent_point, explorer.state.dim_names, "
            "explorer.figures.traversal, explorer.widgets.compare, explorer.widgets.run_actions, explorer.state.view_link, explorer.widgets.downloads; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"

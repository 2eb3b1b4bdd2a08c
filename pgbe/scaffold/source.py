"""Where a new project installs pgbe from: the wheel or commit of the pgbe that generated it.

pgbe is on no public package index, so a project must never name it bare (`pip install pgbe` would
install whoever registers the name). `pgbe new project` writes `pgbe-source.txt`, one pip requirement
the project's Makefile and Dockerfile install pgbe from:

- `vendor/pgbe-<version>-py3-none-any.whl`, a wheel committed with the project: built from the checkout
  the running pgbe is installed from (editable or not), or copied from the wheel it was installed from;
- `pgbe @ git+<url>@<commit>`, when pgbe was installed from git (the commit, never a branch);
- `pgbe==<version>`, when it was installed from a package index of your own.

The installer's record of the running pgbe (PEP 610's direct_url.json) says which; `--pgbe` overrides it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

SOURCE_FILE = "pgbe-source.txt"
VENDOR = "vendor"
_COMMIT = re.compile(r"@[0-9a-f]{7,40}$")


class SourceError(Exception):
    """pgbe's source cannot be recorded as asked (a branch instead of a commit, a missing file...)."""


@dataclass(frozen=True)
class Recorded:
    """What `pgbe-source.txt` holds, and where it came from (for the message and vendor/README.md)."""

    requirement: str
    origin: str


def installed_source() -> str:
    """The running pgbe's origin as `--pgbe` takes it: a checkout folder, a wheel, a git URL at a commit."""
    text = metadata.distribution("pgbe").read_text("direct_url.json")
    if not text:
        return f"pgbe=={metadata.version('pgbe')}"  # from an index
    info = json.loads(text)
    url: str = info["url"]
    if "vcs_info" in info:
        return f"{info['vcs_info']['vcs']}+{url}@{info['vcs_info']['commit_id']}"
    if url.startswith("file://"):
        return unquote(urlparse(url).path)
    raise SourceError(f"pgbe was installed from {url}: pass --pgbe with a wheel, a checkout or a git commit")


def record(target: Path, source: str | None = None) -> Recorded:
    """Put pgbe where `target` installs it from (vendor/ or a pinned URL) and write pgbe-source.txt."""
    spec = source or installed_source()
    if spec.startswith("git+"):
        if not _COMMIT.search(spec):
            raise SourceError(f"{spec}: name a commit (git+<url>@<sha>), not a branch, so clones agree")
        found = Recorded(f"pgbe @ {spec}", spec)
    elif re.fullmatch(r"pgbe\s*==\s*[\w.+!-]+", spec):
        found = Recorded(spec.replace(" ", ""), "your package index")
    else:
        path = Path(spec).expanduser().resolve()
        if path.is_file() and path.suffix == ".whl":
            wheel = _vendor(target) / path.name
            shutil.copyfile(path, wheel)
        elif (path / "pyproject.toml").is_file():
            wheel = _build_wheel(path, _vendor(target))
        else:
            raise SourceError(f"{spec}: not a pgbe wheel, checkout, git URL at a commit or pgbe==<version>")
        found = Recorded(f"{VENDOR}/{wheel.name}", _describe(path))
        _note(target, wheel.name, found.origin)
    (target / SOURCE_FILE).write_text(found.requirement + "\n")
    return found


def _vendor(target: Path) -> Path:
    folder = target / VENDOR
    folder.mkdir(exist_ok=True)
    return folder


def _build_wheel(checkout: Path, into: Path) -> Path:
    """Build pgbe's wheel from `checkout` into `into` with pip (the build backend from pyproject.toml)."""
    args = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(into), str(checkout)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603 - our own arguments
    wheels = sorted(into.glob("pgbe-*.whl"))
    if done.returncode != 0 or not wheels:
        raise SourceError(f"building pgbe's wheel from {checkout} failed: {done.stderr.strip()[-500:]}")
    return wheels[-1]


def _describe(path: Path) -> str:
    """`path`, with its git commit when it is a clean checkout (what the wheel was built from)."""
    if path.is_file():
        return str(path)
    git = shutil.which("git")
    if git is None:
        return str(path)
    head = subprocess.run([git, "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)  # noqa: S603
    dirty = subprocess.run([git, "-C", str(path), "status", "--porcelain"], capture_output=True, text=True)  # noqa: S603
    if head.returncode != 0:
        return str(path)
    state = " with uncommitted changes" if dirty.stdout.strip() else ""
    return f"{path} at commit {head.stdout.strip()}{state}"


def _note(target: Path, wheel: str, origin: str) -> None:
    """Say in vendor/README.md where the vendored wheel was built or copied from."""
    readme = target / VENDOR / "README.md"
    line = f"\n`{wheel}`: from {origin}.\n"
    readme.write_text((readme.read_text() if readme.exists() else "# vendor/\n") + line)

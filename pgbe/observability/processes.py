"""What `pgbe run` prepares before it starts the workers: the directory the workers' metrics share.

Kept apart from `metrics` because prometheus-client chooses its storage when it is first imported:
`PROMETHEUS_MULTIPROC_DIR` must be set before that, in the supervisor, for every worker to inherit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(workers: int) -> Path | None:
    """Before starting `workers` processes: make sure the multiprocess directory exists and is empty.

    Uses `PROMETHEUS_MULTIPROC_DIR` when set, else (more than one worker) a new temporary directory,
    exported for the workers. Returns the directory, or None for a single in-process registry.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory and workers <= 1:
        return None
    if not directory:
        directory = tempfile.mkdtemp(prefix="pgbe-metrics-")
        os.environ[MULTIPROC_ENV] = directory
        atexit.register(shutil.rmtree, directory, True)
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # samples of an earlier run would be added to this one's
        stale.unlink()
    return path

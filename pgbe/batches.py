"""Deprecated import path, kept for one release: use `pgbe.db.batches`."""

import warnings

from pgbe.db.batches import *  # noqa: F403
from pgbe.db.batches import __all__  # noqa: F401

warnings.warn("pgbe.batches moved to pgbe.db.batches", DeprecationWarning, stacklevel=2)

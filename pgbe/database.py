"""Deprecated import path, kept for one release: use `pgbe.db.database`."""

import warnings

from pgbe.db.database import *  # noqa: F403
from pgbe.db.database import __all__  # noqa: F401

warnings.warn("pgbe.database moved to pgbe.db.database", DeprecationWarning, stacklevel=2)

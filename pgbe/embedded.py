"""Deprecated import path, kept for one release: use `pgbe.db.embedded`."""

import warnings

from pgbe.db.embedded import *  # noqa: F403
from pgbe.db.embedded import __all__  # noqa: F401

warnings.warn("pgbe.embedded moved to pgbe.db.embedded", DeprecationWarning, stacklevel=2)

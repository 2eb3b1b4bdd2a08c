"""Deprecated import path, kept for one release: use `pgbe.db.errors`."""

import warnings

from pgbe.db.errors import *  # noqa: F403
from pgbe.db.errors import __all__  # noqa: F401

warnings.warn("pgbe.db_errors moved to pgbe.db.errors", DeprecationWarning, stacklevel=2)

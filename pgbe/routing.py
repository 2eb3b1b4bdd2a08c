"""Deprecated import path, kept for one release: use `pgbe.db.read_session`."""

import warnings

from pgbe.db.read_session import *  # noqa: F403
from pgbe.db.read_session import __all__  # noqa: F401

warnings.warn("pgbe.routing moved to pgbe.db.read_session", DeprecationWarning, stacklevel=2)

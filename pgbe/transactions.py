"""Deprecated import path, kept for one release: use `pgbe.db.transactions`."""

import warnings

from pgbe.db.transactions import *  # noqa: F403
from pgbe.db.transactions import __all__  # noqa: F401

warnings.warn("pgbe.transactions moved to pgbe.db.transactions", DeprecationWarning, stacklevel=2)

"""Deprecated import path, kept for one release: use `pgbe.db.replicas` and `pgbe.db.read_state`."""

import warnings

from pgbe.db.read_state import *  # noqa: F403
from pgbe.db.read_state import __all__ as _state_names
from pgbe.db.replicas import *  # noqa: F403
from pgbe.db.replicas import __all__ as _replica_names

__all__ = [*_replica_names, *_state_names]

warnings.warn(
    "pgbe.replicas moved to pgbe.db.replicas and pgbe.db.read_state", DeprecationWarning, stacklevel=2
)

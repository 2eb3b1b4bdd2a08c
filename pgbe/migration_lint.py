"""Deprecated import path, kept for one release: use `pgbe.migrations.lint`."""

import warnings

from pgbe.migrations.lint import *  # noqa: F403
from pgbe.migrations.lint import __all__  # noqa: F401

warnings.warn("pgbe.migration_lint moved to pgbe.migrations.lint", DeprecationWarning, stacklevel=2)

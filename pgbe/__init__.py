"""pgbe: a batteries-included backend framework for Python on PostgreSQL."""

__version__ = "0.1.0"

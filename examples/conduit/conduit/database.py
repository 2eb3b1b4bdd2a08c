"""Conduit's database and authentication, on its settings."""

from __future__ import annotations

from conduit.settings import get_settings
from pgbe.auth.service import Auth
from pgbe.db.database import Database

database = Database(get_settings())
auth = Auth(get_settings(), database)

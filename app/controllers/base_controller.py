"""The guide's import path for pgbe's generic BaseController."""

from pgbe.controllers import BaseController, CreateSchemaType, ModelType, UpdateSchemaType
from pgbe.db.transactions import atomic, run_in_transaction

__all__ = [
    "BaseController",
    "CreateSchemaType",
    "ModelType",
    "UpdateSchemaType",
    "atomic",
    "run_in_transaction",
]
